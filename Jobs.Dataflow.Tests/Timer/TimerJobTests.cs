using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace Jobs.Dataflow.Tests.Timer;

[TestClass]
public sealed class TimerJobTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task Run_IntervalElapses_FirstRunOneIntervalAfterStart()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync("tick", runs.Fn, Interval);
        harness.Time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(0, harness.Time.CallbacksRun, "No tick may come before one interval has passed.");
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.AreEqual(1, harness.Time.CallbacksRun);
        Assert.AreEqual(start + Interval, await runs.NextAsync());
        Assert.AreEqual(1, runs.Count);
    }

    [TestMethod]
    public async Task Run_RunTakesTime_NextRunOneIntervalAfterPreviousStart()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync("tick", runs.Fn, Interval);

        runs.Hold();
        harness.Time.Advance(Interval);
        await runs.NextAsync();
        harness.Time.Advance(TimeSpan.FromSeconds(3));
        runs.Release();
        await harness.Health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (3s)");

        // Counted from the end of the run, the next one would need 3 more seconds and never come.
        harness.Time.Advance(TimeSpan.FromSeconds(7));
        Assert.AreEqual(start + (2 * Interval), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Run_TriggeredRun_RestartsInterval()
    {
        var time = new TestTimeProvider();
        var health = new RecordingHealth();
        var registry = new JobRegistry(timeProvider: time);
        IJobGroup group = registry.NewGroup(health);
        var runs = new TimerRuns(time);
        var trigger = new Trigger(timeProvider: new FakeTimeProvider());
        DateTimeOffset start = time.GetUtcNow();
        group.Add(Job.Timer("tick", runs.Fn, Interval, new TimerOptions { Trigger = trigger }));
        await group.StartAsync(CancellationToken.None);
        await health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "Primed");

        time.Advance(TimeSpan.FromSeconds(4));
        trigger.Fire();
        await runs.NextAsync();
        await health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");
        time.Advance(TimeSpan.FromSeconds(6));
        time.Advance(TimeSpan.FromSeconds(4));

        // Timer callbacks run inside Advance, so the ticks are known here without waiting.
        CollectionAssert.AreEqual(new[] { start + TimeSpan.FromSeconds(14) }, time.CallbackTimes.ToArray());
        Assert.AreEqual(start + TimeSpan.FromSeconds(14), await runs.NextAsync());
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Run_TicksDuringSlowRun_CoalesceIntoOneRunRightAfterIt()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var probe = new Trigger(timeProvider: new FakeTimeProvider());
        int runsBeforeProbe = -1;
        harness.Metrics.Setup(m => m.TimerTriggerStats("tick", It.IsAny<TimeSpan>(), It.IsAny<int>()))
            .Callback(() => runsBeforeProbe = runs.Count);
        await harness.StartTimerAsync("tick", runs.Fn, Interval, new TimerOptions { Trigger = probe });

        runs.Hold();
        harness.Time.Advance(Interval);
        await runs.NextAsync();
        for (int i = 0; i < 5; i++)
        {
            harness.Time.Advance(Interval);
        }

        runs.Release();
        await runs.NextAsync();

        // The wake-up of a fire queues behind any left-over tick run, so it shows how many ran.
        probe.Fire();
        await runs.NextAsync();
        Assert.AreEqual(2, runsBeforeProbe);
        Assert.AreEqual(1, runs.MaxActive);
    }

    [TestMethod]
    public async Task Run_ZeroIntervalWithTrigger_RunsOnlyWhenFired()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new FakeTimeProvider());
        await harness.StartTimerAsync("fired", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });

        harness.Time.Advance(TimeSpan.FromDays(1));
        Assert.AreEqual(0, harness.Time.TimersCreated);
        Assert.AreEqual(0, runs.Count);

        trigger.Fire();
        await runs.NextAsync();
        Assert.AreEqual(1, runs.Count);
    }

    [TestMethod]
    public async Task Run_Started_ReportsPrimedThenOkWithDuration()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        await harness.StartTimerAsync("tick", runs.Fn, Interval);

        runs.Hold();
        harness.Time.Advance(Interval);
        await runs.NextAsync();
        harness.Time.Advance(TimeSpan.FromMilliseconds(1500));
        runs.Release();

        HealthReport ok = await harness.Health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");
        Assert.AreEqual("OK (1.5s)", ok.Message);
        harness.Metrics.Verify(m => m.TimerRunDuration("tick", TimeSpan.FromMilliseconds(1500), RunOutcome.Ok, null), Times.Once);
    }

    [TestMethod]
    public async Task Run_GroupHealthIsAHealthTree_ShowsOkWithTheDurationOfTheLastRun()
    {
        var time = new TestTimeProvider();
        var tree = new HealthTree("root", time);
        IJobGroup group = new JobRegistry(timeProvider: time).NewGroup(tree);
        var trigger = new Trigger(timeProvider: new FakeTimeProvider());
        var firstRunning = new TaskCompletionSource();
        var firstMayEnd = new TaskCompletionSource();
        var secondRunning = new TaskCompletionSource();
        var secondMayEnd = new TaskCompletionSource();
        int runs = 0;
        TimerFunc fn = async _ =>
        {
            if (Interlocked.Increment(ref runs) == 1)
            {
                // Only this run moves the clock, so its duration is exact.
                time.Advance(TimeSpan.FromMilliseconds(1500));
                firstRunning.SetResult();
                await firstMayEnd.Task;
            }
            else
            {
                secondRunning.TrySetResult();
                await secondMayEnd.Task;
            }
        };
        group.Add(Job.Timer("fired", fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger }));

        trigger.Fire();
        await group.StartAsync(CancellationToken.None);
        await firstRunning.OrTimeout();
        trigger.Fire();
        firstMayEnd.SetResult();

        // Runs never overlap: once the second run has begun, the first one has reported.
        await secondRunning.OrTimeout();
        HealthStatus scope = tree.Snapshot().Find("timer-job-fired")!;
        Assert.AreEqual(HealthLevel.Ok, scope.Level);
        Assert.AreEqual("OK (1.5s)", scope.Message);
        secondMayEnd.SetResult();
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Run_FunctionThrows_LogsDegradesCountsAndKeepsRunning()
    {
        await using var harness = new GroupHarness();
        var boom = new InvalidOperationException("boom");
        int calls = 0;
        TimerFunc fn = _ => Interlocked.Increment(ref calls) == 1 ? throw boom : Task.CompletedTask;
        await harness.StartTimerAsync("flaky", fn, Interval);

        harness.Time.Advance(Interval);
        HealthReport degraded = await harness.Health.WaitForAsync("timer-job-flaky", HealthLevel.Degraded);
        LogEntry logged = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerFailed));
        harness.Time.Advance(Interval);
        await harness.Health.WaitForAsync("timer-job-flaky", HealthLevel.Ok, "OK (");

        Assert.AreSame(boom, degraded.Error);
        Assert.AreEqual(LogLevel.Error, logged.Level);
        Assert.AreEqual("flaky", logged["JobName"]);
        harness.Metrics.Verify(m => m.JobError("flaky", boom), Times.Once);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
    }

    [TestMethod]
    public async Task Run_ShutdownOnError_CallsShutdownerWithTheError()
    {
        await using var harness = new GroupHarness();
        var boom = new InvalidOperationException("boom");
        var shutdown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Shutdowner.Setup(s => s.Shutdown(It.IsAny<Exception?>())).Callback(shutdown.SetResult);
        await harness.StartTimerAsync("fatal", _ => throw boom, Interval, new TimerOptions { ShutdownOnError = true });

        harness.Time.Advance(Interval);
        await shutdown.OrTimeout();

        harness.Shutdowner.Verify(s => s.Shutdown(boom), Times.Once);
    }

    [TestMethod]
    public async Task StopAsync_DuringRun_CancelsTokenAndEndsJob()
    {
        await using var harness = new GroupHarness();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool sawCancellation = false;
        TimerFunc fn = async token =>
        {
            entered.SetResult();
            try
            {
                await token.UntilCancelledAsync();
            }
            catch (OperationCanceledException)
            {
                sawCancellation = true;
                throw;
            }
        };
        await harness.StartTimerAsync("long", fn, Interval);
        harness.Time.Advance(Interval);
        await entered.OrTimeout();

        await harness.StopAsync();

        Assert.IsTrue(sawCancellation);
        Assert.IsNull(harness.Health.Tree.Snapshot().Find("timer-job-long"), "The scope must be closed when StopAsync returns.");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Error));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
    }

    [TestMethod]
    public async Task StopAsync_RunPending_DropsIt()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TimerFunc fn = token =>
        {
            token.Register(cancelled.SetResult);
            return runs.Fn(CancellationToken.None);
        };
        await harness.StartTimerAsync("tick", fn, Interval);

        runs.Hold();
        harness.Time.Advance(Interval);
        await runs.NextAsync();
        harness.Time.Advance(Interval);
        Task stop = harness.StopAsync();
        await cancelled.OrTimeout();
        runs.Release();
        await stop;

        Assert.AreEqual(1, runs.Count);
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerRunDropped) && Equals(e["JobName"], "tick"));
    }

    [TestMethod]
    public void Timer_BadInput_ThrowsWhereGiven()
    {
        var trigger = new Trigger();
        TimerFunc fn = _ => Task.CompletedTask;

        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Timer("t", null!, Interval)).ParamName);
        Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Job.Timer("t", fn, TimeSpan.FromTicks(-1))).ParamName);
        Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Job.Timer("t", fn, TimeSpan.Zero)).ParamName);
        Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Job.Timer("t", fn, TimeSpan.FromTicks(1))).ParamName);
        Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Job.Timer("t", fn, TimeSpan.FromMilliseconds(1) - TimeSpan.FromTicks(1), new TimerOptions { Trigger = trigger })).ParamName);
        Assert.AreEqual("timer-job-fast", ((TimerJob)Job.Timer("fast", fn, TimeSpan.FromMilliseconds(1))).HealthScopeName);
        Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Job.Timer("t", fn, TimeSpan.MaxValue)).ParamName);
        Assert.ThrowsExactly<ArgumentNullException>(() => Job.Timer(null!, fn, Interval));
        Assert.ThrowsExactly<ArgumentException>(() => Job.Timer(string.Empty, fn, Interval));
        Assert.AreEqual("timer-job-ok", ((TimerJob)Job.Timer("ok", fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger })).HealthScopeName);
    }
}
