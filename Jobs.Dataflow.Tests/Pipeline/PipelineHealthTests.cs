using System.Collections.Concurrent;
using Jobs.Dataflow.Tests.TestUtilities;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-38, health: <c>Primed</c> on the job and each stage, an <c>OK</c> report
/// with the counts after an item leaves the sink once 10 seconds have passed since the last report,
/// no periodic timer while idle, and a stage <c>Degraded</c> while its last item failed.
/// </summary>
[TestClass]
public sealed class PipelineHealthTests
{
    private const string Scope = "pipeline-job-p";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task Run_Started_ReportsPrimedOnTheJobAndOnEveryStage()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        harness.Add(Job.Pipeline("p", stream)
            .Transform("parse", x => x)
            .Batch("batch", 2)
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();

        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");
        foreach (string stage in new[] { "parse", "batch", "store" })
        {
            await harness.Health.WaitForAsync($"{Scope}/stage-{stage}", HealthLevel.Ok, "Primed");
        }
    }

    [TestMethod]
    public async Task Run_TenSecondsPassed_ReportsOkWithTheCountsOnlyAfterTheNextItemLeavesTheSink()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var sunk = new SemaphoreSlim(0);
        harness.Add(Job.Pipeline("p", stream)
            .Where("not-two", x => x != 2)
            .Transform("parse", x => x == 3 ? throw new FormatException("three") : x)
            .Sink("store", (_, _) =>
            {
                sunk.Release();
                return Task.CompletedTask;
            }));
        await StartAsync(harness);

        // 1 is stored, 2 dropped, 3 failed, 4 stored: nothing reports yet, the 10 s have not passed.
        stream.Write(1, 2, 3, 4);
        await sunk.WaitOrTimeout();
        await sunk.WaitOrTimeout();
        Assert.IsEmpty(OkReports(harness));

        // The 10 s pass while idle: still no report, until an item leaves the sink.
        harness.Time.Advance(Interval);
        Assert.IsEmpty(OkReports(harness));
        stream.Write(5);
        await sunk.WaitOrTimeout();
        HealthReport ok = await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "OK");
        Assert.AreEqual("OK [in 5, out 3, failed 1]", ok.Message);
        await harness.Health.WaitForAsync($"{Scope}/stage-not-two", HealthLevel.Ok, "Running [out 4, queue 0]");
        await harness.Health.WaitForAsync($"{Scope}/stage-store", HealthLevel.Ok, "Running [out 3, queue 0]");

        // The next report is 10 s after this one, not at the next item. (Item 6 entering the sink
        // also tells that item 5's report has armed the timer again.)
        stream.Write(6);
        await sunk.WaitOrTimeout();
        harness.Time.Advance(Interval - TimeSpan.FromTicks(1));
        stream.Write(7);
        await sunk.WaitOrTimeout();
        harness.Time.Advance(TimeSpan.FromTicks(1));
        stream.Write(8);
        await sunk.WaitOrTimeout();
        stream.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { "OK [in 5, out 3, failed 1]", "OK [in 8, out 6, failed 1]" }, OkReports(harness).Select(r => r.Message).ToArray());
    }

    [TestMethod]
    public async Task Run_Idle_HasNoPeriodicTimer()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var sunk = new SemaphoreSlim(0);
        harness.Add(Job.Pipeline("p", stream).Sink("store", (_, _) =>
        {
            sunk.Release();
            return Task.CompletedTask;
        }));
        await StartAsync(harness);

        // The report timer fires once and waits for an item; idle, nothing ticks.
        harness.Time.Advance(Interval);
        Assert.AreEqual(1, harness.Time.CallbacksRun);
        harness.Time.Advance(Interval * 100);
        Assert.AreEqual(1, harness.Time.CallbacksRun);

        // The report an item makes arms it again, for 10 s from then. Item 2 entering the sink
        // tells that item 1's report is done.
        stream.Write(1, 2);
        await sunk.WaitOrTimeout();
        await sunk.WaitOrTimeout();
        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "OK [in 1, out 1, failed 0]");
        harness.Time.Advance(Interval - TimeSpan.FromTicks(1));
        Assert.AreEqual(1, harness.Time.CallbacksRun);
        harness.Time.Advance(TimeSpan.FromTicks(1));
        Assert.AreEqual(2, harness.Time.CallbacksRun);
    }

    [TestMethod]
    public async Task Stage_LastItemFailed_IsDegradedWithItsQueueUntilAnItemSucceeds()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var sunk = new SemaphoreSlim(0);
        var error = new FormatException("bad record");
        harness.Add(Job.Pipeline("p", stream)
            .Transform("parse", x => x == 2 ? throw error : x)
            .Sink("store", (_, _) =>
            {
                sunk.Release();
                return Task.CompletedTask;
            }));
        await StartAsync(harness);

        stream.Write(1);
        await sunk.WaitOrTimeout();
        stream.Write(2);
        HealthReport degraded = await harness.Health.WaitForAsync($"{Scope}/stage-parse", HealthLevel.Degraded);
        Assert.AreEqual("Item failed: bad record [queue 0]", degraded.Message);
        Assert.AreSame(error, degraded.Error);

        stream.Write(3);
        await sunk.WaitOrTimeout();
        HealthReport recovered = await harness.Health.WaitForAsync($"{Scope}/stage-parse", HealthLevel.Ok, "Running");
        Assert.AreEqual("Running [out 2, queue 0]", recovered.Message);
        Assert.AreEqual(HealthLevel.Ok, harness.Health.Tree.Snapshot().Find(Scope, "stage-parse")!.Level);
    }

    [TestMethod]
    public async Task Stage_RecoveredFromAFailure_ReportsItsCountsAgainOnlyAtThePeriodicReport()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var sunk = new SemaphoreSlim(0);
        harness.Add(Job.Pipeline("p", stream)
            .Transform("parse", x => x == 2 ? throw new FormatException("two") : x)
            .Sink("store", (_, _) =>
            {
                sunk.Release();
                return Task.CompletedTask;
            }));
        await StartAsync(harness);

        // 1 is stored, 2 fails, 3 recovers the stage, 4 is a plain item again.
        stream.Write(1);
        await sunk.WaitOrTimeout();
        stream.Write(2);
        await harness.Health.WaitForAsync($"{Scope}/stage-parse", HealthLevel.Degraded);
        stream.Write(3);
        await sunk.WaitOrTimeout();
        stream.Write(4);
        await sunk.WaitOrTimeout();

        string[] running = [.. harness.Health.Reports.Where(r => r.Path == $"{Scope}/stage-parse" && r.Level == HealthLevel.Ok).Select(r => r.Message)];
        CollectionAssert.AreEqual(new[] { "Primed", "Running [out 2, queue 0]" }, running);

        // The periodic report writes the stage's counts again.
        harness.Time.Advance(Interval);
        stream.Write(5);
        await sunk.WaitOrTimeout();
        await harness.Health.WaitForAsync($"{Scope}/stage-parse", HealthLevel.Ok, "Running [out 4, queue 0]");
    }

    [TestMethod]
    public async Task Report_StageWhoseLastItemFailed_StaysDegraded()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var inSink = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", stream)
            .Transform("parse", x => x == 2 ? throw new FormatException("two") : x)
            .Sink("store", async (item, _) =>
            {
                inSink.TrySetResult();
                await release.Task;
                sunk.Enqueue(item);
            }));
        await StartAsync(harness);

        // Item 1 waits in the sink while item 2 fails in parse; the report item 1 then makes
        // must not turn parse back to Ok.
        stream.Write(1);
        await inSink.OrTimeout();
        stream.Write(2);
        await harness.Health.WaitForAsync($"{Scope}/stage-parse", HealthLevel.Degraded);
        harness.Time.Advance(Interval);
        release.SetResult();
        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "OK [in 2, out 1, failed 1]");

        // The report goes through the stages in order: once the sink's is made, parse's is too.
        await harness.Health.WaitForAsync($"{Scope}/stage-store", HealthLevel.Ok, "Running [out 1, queue 0]");
        Assert.AreEqual(HealthLevel.Degraded, harness.Health.Reports.Last(r => r.Path == $"{Scope}/stage-parse").Level);
    }

    [TestMethod]
    public async Task Report_ItemFailsWhileTheStagesReportIsWritten_TheStageEndsDegraded()
    {
        // The stage's scope records what it was told in the order the writes took effect: an Ok
        // report held up in the health sink must not land after the Degraded of a failure.
        var time = new TestTimeProvider();
        var calls = new ConcurrentQueue<string>();
        using var okHeld = new ManualResetEventSlim();
        var inOk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var okDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var degraded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stage = new Mock<IHealth>();
        stage.Setup(h => h.Ok(It.Is<string>(s => s.StartsWith("Running", StringComparison.Ordinal)))).Callback(() =>
        {
            inOk.TrySetResult();
            okHeld.Wait(Waits.Timeout);
            calls.Enqueue("Ok");
            okDone.TrySetResult();
        });
        stage.Setup(h => h.Degraded(It.Is<string>(s => s.StartsWith("Item failed", StringComparison.Ordinal)), It.IsAny<Exception?>())).Callback(() =>
        {
            calls.Enqueue("Degraded");
            degraded.TrySetResult();
        });
        var job = new Mock<IHealth>();
        job.Setup(h => h.NewScope("stage-store")).Returns(stage.Object);
        var root = new Mock<IHealth>();
        root.Setup(h => h.NewScope(Scope)).Returns(job.Object);
        var failing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var metrics = new Mock<IJobMetrics>();
        metrics.Setup(m => m.PipelineStageFailed("p", "store")).Callback(failing.SetResult);
        var registry = new JobRegistry(new LogCapture().Factory, Mock.Of<IShutdowner>(), time, metrics.Object);
        IJobGroup group = registry.NewGroup(root.Object);
        var stream = new SteppedStream();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        group.Add(Job.Pipeline("p", stream).Sink(
            "store",
            async (item, _) =>
            {
                await (item == 1 ? first : second).Task;
                if (item == 2)
                {
                    throw new IOException("two");
                }
            },
            new StageOptions { MaxDegreeOfParallelism = 2 }));

        try
        {
            await group.StartAsync(CancellationToken.None);
            await time.WaitForTimerAsync();
            stream.Write(1, 2);
            time.Advance(Interval);

            // Item 1 leaves the sink and the report it makes is held in the stage's Ok; item 2 then fails.
            first.SetResult();
            await inOk.OrTimeout();
            second.SetResult();
            await failing.OrTimeout();
            okHeld.Set();
            await Task.WhenAll(okDone.Task, degraded.Task).OrTimeout();

            CollectionAssert.AreEqual(new[] { "Ok", "Degraded" }, calls.ToArray());
        }
        finally
        {
            okHeld.Set();
            await group.StopAsync(CancellationToken.None).OrTimeout();
        }
    }

    [TestMethod]
    public async Task StopAsync_Running_ClosesTheJobsScopeWithItsStages()
    {
        await using var harness = new GroupHarness();
        harness.Add(Job.Pipeline("p", new SteppedStream()).Transform("parse", x => x).Sink("store", (_, _) => Task.CompletedTask));
        await StartAsync(harness);

        await harness.StopAsync();

        Assert.IsNull(harness.Health.Tree.Snapshot().Find(Scope));
    }

    /// <summary>Starts the group and waits until the job's report timer is armed (its first timer, without a batch stage).</summary>
    private static async Task StartAsync(GroupHarness harness)
    {
        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();
    }

    private static HealthReport[] OkReports(GroupHarness harness) =>
        [.. harness.Health.Reports.Where(r => r.Path == Scope && r.Message.StartsWith("OK", StringComparison.Ordinal))];
}
