using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace Jobs.Dataflow.Tests.Health;

/// <summary>
/// <see cref="HealthStatus.LastChanged"/> is when a scope reported, however much later a snapshot
/// reads it: the tree stamps reports with its clock's timestamps, and jobs hand it the timestamps
/// of their runs' start and end instead of making it read the clock again.
/// </summary>
[TestClass]
public sealed class ReportTimeTests
{
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [TestMethod]
    public void Snapshot_TakenHoursAfterTheReports_LastChangedIsWhenEachScopeReported()
    {
        var time = new FakeTimeProvider(Noon);
        var tree = new HealthTree("svc", time);
        time.Advance(TimeSpan.FromMinutes(1));
        _ = tree.NewScope("created");
        time.Advance(TimeSpan.FromMinutes(1));
        IHealth reported = tree.NewScope("reported");
        time.Advance(TimeSpan.FromMinutes(1));
        reported.Degraded("slow", error: null);

        time.Advance(TimeSpan.FromHours(3));
        HealthStatus snapshot = tree.Snapshot();

        Assert.AreEqual(Noon, snapshot.LastChanged, "The root: when the tree was made.");
        Assert.AreEqual(Noon.AddMinutes(1), snapshot.Find("created")!.LastChanged, "A scope that never reported: when it was created.");
        Assert.AreEqual(Noon.AddMinutes(3), snapshot.Find("reported")!.LastChanged);
        Assert.AreEqual(TimeSpan.Zero, snapshot.Find("reported")!.LastChanged.Offset);
    }

    [TestMethod]
    public void Snapshot_ClockStepsBackAfterTheReport_LastChangedIsNotAfterTheSnapshot()
    {
        var time = new SteppingTimeProvider();
        var tree = new HealthTree("svc", time);
        IHealth scope = tree.NewScope("a");
        time.Advance(TimeSpan.FromMinutes(1));
        scope.Ok("up");

        time.StepBack(TimeSpan.FromMinutes(5));
        HealthStatus a = tree.Snapshot().Find("a")!;

        Assert.AreEqual(time.GetUtcNow(), a.LastChanged);
    }

    [TestMethod]
    public async Task OneShot_TreeOnTheGroupsClock_RunningIsTheStartAndFinishedTheEnd()
    {
        var time = new TestTimeProvider();
        DateTimeOffset start = time.GetUtcNow();
        var tree = new HealthTree("root", time);
        IJobGroup group = new JobRegistry(timeProvider: time).NewGroup(tree);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        Job job = Job.OneShot("work", async (_, _) =>
        {
            started.SetResult();
            await release.Task;
        });
        group.Add(job);
        await group.StartAsync(CancellationToken.None);
        await started.Task.OrTimeout();

        time.Advance(TimeSpan.FromSeconds(30));
        HealthStatus running = tree.Snapshot().Find("job-work")!;
        time.Advance(TimeSpan.FromSeconds(15));
        release.SetResult();
        await job.Completion.OrTimeout();
        time.Advance(TimeSpan.FromMinutes(10));
        HealthStatus finished = tree.Snapshot().Find("job-work")!;

        Assert.AreEqual("Running", running.Message);
        Assert.AreEqual(start, running.LastChanged);
        Assert.AreEqual("Finished (45s)", finished.Message);
        Assert.AreEqual(start.AddSeconds(45), finished.LastChanged);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task OneShot_TreeOnAnotherClock_TimesAreTheTreesNotTheGroups()
    {
        var groupTime = new TestTimeProvider();
        var treeTime = new FakeTimeProvider(Noon.AddYears(4));
        var tree = new HealthTree("root", treeTime);
        IJobGroup group = new JobRegistry(timeProvider: groupTime).NewGroup(tree);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        Job job = Job.OneShot("work", async (_, _) =>
        {
            started.SetResult();
            await release.Task;
        });
        group.Add(job);
        await group.StartAsync(CancellationToken.None);
        await started.Task.OrTimeout();
        HealthStatus running = tree.Snapshot().Find("job-work")!;
        groupTime.Advance(TimeSpan.FromDays(400));
        treeTime.Advance(TimeSpan.FromSeconds(5));

        release.SetResult();
        await job.Completion.OrTimeout();
        treeTime.Advance(TimeSpan.FromSeconds(7));
        HealthStatus finished = tree.Snapshot().Find("job-work")!;

        Assert.AreEqual("Running", running.Message);
        Assert.AreEqual(Noon.AddYears(4), running.LastChanged, "Stamped by the tree's clock when the job started.");
        Assert.AreEqual(Noon.AddYears(4).AddSeconds(5), finished.LastChanged, "Stamped by the tree's clock when the job finished.");
        Assert.AreEqual("Finished (9600h0m0s)", finished.Message, "The duration is the group's clock's.");
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Timer_TreeOnTheGroupsClock_OkIsTheEndOfTheRun()
    {
        var time = new TestTimeProvider();
        DateTimeOffset start = time.GetUtcNow();
        var tree = new HealthTree("root", time);

        // The run's end is read before its duration is recorded: once it is, the clock may move on.
        var firstEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var metrics = new Mock<IJobMetrics>();
        metrics.Setup(m => m.TimerRunDuration("tick", It.IsAny<TimeSpan>(), RunOutcome.Ok, null)).Callback(() => firstEnded.TrySetResult());
        IJobGroup group = new JobRegistry(timeProvider: time, metrics: metrics.Object).NewGroup(tree);
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseSecond = new TaskCompletionSource();
        int calls = 0;
        group.Add(Job.Timer(
            "tick",
            async _ =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    time.Advance(TimeSpan.FromSeconds(2));
                    return;
                }

                secondStarted.TrySetResult();
                await releaseSecond.Task;
            },
            TimeSpan.FromMinutes(1)));
        await group.StartAsync(CancellationToken.None);
        await time.WaitForTimerAsync().OrTimeout();

        time.Advance(TimeSpan.FromMinutes(1));
        await firstEnded.Task.OrTimeout();

        // The next run begins only after the first one reported: the runs of a timer never overlap.
        time.Advance(TimeSpan.FromSeconds(58));
        await secondStarted.Task.OrTimeout();
        HealthStatus tick = tree.Snapshot().Find("timer-job-tick")!;

        Assert.AreEqual("OK (2s)", tick.Message);
        Assert.AreEqual(start.AddMinutes(1).AddSeconds(2), tick.LastChanged);
        releaseSecond.SetResult();
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }
}
