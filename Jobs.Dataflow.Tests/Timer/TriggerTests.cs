using Jobs.Dataflow.Tests.TestUtilities;
using Moq;

namespace Jobs.Dataflow.Tests.Timer;

[TestClass]
public sealed class TriggerTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task Fire_BeforeGroupStarts_RunsTimerOnceRightAfterStart()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new TestTimeProvider());
        harness.Add(Job.Timer("early", runs.Fn, Interval, new TimerOptions { Trigger = trigger }));

        trigger.Fire();
        trigger.Fire();
        await harness.StartAsync();

        await runs.NextAsync();
        await harness.Health.WaitForAsync("timer-job-early", HealthLevel.Ok, "OK (");
        Assert.AreEqual(1, runs.Count);
        harness.Metrics.Verify(m => m.TimerTriggerStats("early", It.IsAny<TimeSpan>(), 2), Times.Once);
    }

    [TestMethod]
    public async Task Fire_BeforeTimerIsAddedToARunningGroup_RunsItOnceRightAfterItStarts()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new TestTimeProvider());
        await harness.StartAsync();

        trigger.Fire();
        harness.Add(Job.Timer("late", runs.Fn, Interval, new TimerOptions { Trigger = trigger }));

        await runs.NextAsync();
        await harness.Health.WaitForAsync("timer-job-late", HealthLevel.Ok, "OK (");
        Assert.AreEqual(1, runs.Count);
    }

    [TestMethod]
    public async Task Fire_ManyThreadsDuringRun_CoalesceIntoOneRunWithEveryFireFolded()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new TestTimeProvider());
        await harness.StartTimerAsync("busy", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });

        runs.Hold();
        trigger.Fire();
        await runs.NextAsync();
        Parallel.For(0, 1000, _ => trigger.Fire());
        runs.Release();
        await runs.NextAsync();
        await harness.Health.WaitForAsync(r => r.Path == "timer-job-busy" && r.Message.StartsWith("OK", StringComparison.Ordinal)
            && harness.Metrics.Invocations.Count(i => i.Method.Name == nameof(IJobMetrics.TimerRunDuration)) == 2);

        Assert.AreEqual(2, runs.Count);
        harness.Metrics.Verify(m => m.TimerTriggerStats("busy", It.IsAny<TimeSpan>(), 1), Times.Once);
        harness.Metrics.Verify(m => m.TimerTriggerStats("busy", It.IsAny<TimeSpan>(), 1000), Times.Once);
    }

    [TestMethod]
    public async Task Fire_OneTriggerTwoTimers_RunsEachAndCountsFoldsPerTimer()
    {
        await using var harness = new GroupHarness();
        var slowRuns = new TimerRuns(harness.Time);
        var fastRuns = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new TestTimeProvider());
        var options = new TimerOptions { Trigger = trigger };
        harness.Add(Job.Timer("slow", slowRuns.Fn, TimeSpan.Zero, options), Job.Timer("fast", fastRuns.Fn, TimeSpan.Zero, options));
        await harness.StartAsync();
        await harness.Health.WaitForAsync("timer-job-slow", HealthLevel.Ok, "Primed");
        await harness.Health.WaitForAsync("timer-job-fast", HealthLevel.Ok, "Primed");

        // "slow" stays in its first run while "fast" runs for each fire.
        slowRuns.Hold();
        trigger.Fire();
        await slowRuns.NextAsync();
        await fastRuns.NextAsync();
        trigger.Fire();
        await fastRuns.NextAsync();
        trigger.Fire();
        await fastRuns.NextAsync();
        slowRuns.Release();
        await slowRuns.NextAsync();

        harness.Metrics.Verify(m => m.TimerTriggerStats("fast", It.IsAny<TimeSpan>(), 1), Times.Exactly(3));
        harness.Metrics.Verify(m => m.TimerTriggerStats("slow", It.IsAny<TimeSpan>(), 1), Times.Once);
        harness.Metrics.Verify(m => m.TimerTriggerStats("slow", It.IsAny<TimeSpan>(), 2), Times.Once);
    }

    [TestMethod]
    public async Task Fire_WithinDebounceWindow_HeldThenRunsOnceWhenWindowEnds()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var triggerTime = new TestTimeProvider();
        var trigger = new Trigger(TimeSpan.FromSeconds(5), triggerTime);
        await harness.StartTimerAsync("debounced", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });

        trigger.Fire();
        await runs.NextAsync();
        triggerTime.Advance(TimeSpan.FromSeconds(2));
        trigger.Fire();
        trigger.Fire();

        // The held fires arm the window's end on the trigger's clock instead of running.
        await triggerTime.WaitForTimerAsync();
        Assert.AreEqual(1, runs.Count);
        triggerTime.Advance(TimeSpan.FromSeconds(3));
        await runs.NextAsync();

        Assert.AreEqual(2, runs.Count);
        harness.Metrics.Verify(m => m.TimerTriggerStats("debounced", TimeSpan.FromSeconds(3), 2), Times.Once);
    }

    [TestMethod]
    public async Task Fire_HeldForLessThanAMillisecond_WindowTimerWaitsOneMillisecond()
    {
        // A platform timer truncates to whole milliseconds: a window timer re-armed for half a
        // millisecond would fire at once, over and over, until the window ends. Longer waits stay exact.
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var triggerTime = new TestTimeProvider();
        var trigger = new Trigger(TimeSpan.FromMilliseconds(20), triggerTime);
        await harness.StartTimerAsync("debounced", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });
        trigger.Fire();
        await runs.NextAsync();
        triggerTime.Advance(TimeSpan.FromMilliseconds(19.5));
        DateTimeOffset held = triggerTime.GetUtcNow();

        trigger.Fire();
        await triggerTime.WaitForTimerAsync();

        Assert.AreEqual(held + TimeSpan.FromMilliseconds(1), triggerTime.NextDue);
        triggerTime.Advance(TimeSpan.FromMilliseconds(1));
        await runs.NextAsync();
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    [DataRow(1.0)]
    [DataRow(24.0 * 100)]
    public async Task Fire_TriggerClockStepsBack_HoldsTheFireForAtMostTheDebounce(double stepBackHours)
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var triggerTime = new SteppingTimeProvider();
        var trigger = new Trigger(TimeSpan.FromSeconds(5), triggerTime);
        await harness.StartTimerAsync("stepped", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });
        trigger.Fire();
        await runs.NextAsync();

        // The trigger's clock is set back (a custom clock, a VM restored from a snapshot): the time
        // since the last run is negative, and must count as zero, not as the size of the step.
        triggerTime.StepBack(TimeSpan.FromHours(stepBackHours));
        trigger.Fire();
        await triggerTime.WaitForTimerAsync();
        triggerTime.Advance(TimeSpan.FromSeconds(5));

        await runs.NextAsync();
        Assert.AreEqual(2, runs.Count);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error));
    }

    [TestMethod]
    public async Task Fire_TriggerStats_ReportLatencyFromFirstFoldedFireOnTriggerClock()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var triggerTime = new TestTimeProvider();
        var trigger = new Trigger(timeProvider: triggerTime);
        harness.Add(Job.Timer("stats", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger }));

        trigger.Fire();
        triggerTime.Advance(TimeSpan.FromSeconds(3));
        trigger.Fire();
        triggerTime.Advance(TimeSpan.FromSeconds(1));
        trigger.Fire();
        await harness.StartAsync();
        await runs.NextAsync();

        harness.Metrics.Verify(m => m.TimerTriggerStats("stats", TimeSpan.FromSeconds(4), 3), Times.Once);
    }

    [TestMethod]
    public async Task Fire_TriggerStats_FiresDuringARun_LatencyFromTheFirstFireAfterThatRunsTake()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var triggerTime = new TestTimeProvider();
        var trigger = new Trigger(timeProvider: triggerTime);
        await harness.StartTimerAsync("busy", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });
        runs.Hold();
        trigger.Fire();
        await runs.NextAsync();

        // The running timer counts these three itself: the latency of the run they cause starts at
        // the first of them, not at the fire of the run in flight nor at the last one.
        triggerTime.Advance(TimeSpan.FromSeconds(2));
        trigger.Fire();
        triggerTime.Advance(TimeSpan.FromSeconds(3));
        trigger.Fire();
        triggerTime.Advance(TimeSpan.FromSeconds(1));
        trigger.Fire();
        runs.Release();

        // Stats are reported when the fired run starts, before the function is called.
        await runs.NextAsync();

        harness.Metrics.Verify(m => m.TimerTriggerStats("busy", TimeSpan.Zero, 1), Times.Once);
        harness.Metrics.Verify(m => m.TimerTriggerStats("busy", TimeSpan.FromSeconds(4), 3), Times.Once);
    }

    [TestMethod]
    public async Task Run_TickOnly_ReportsNoTriggerStats()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new TestTimeProvider());
        await harness.StartTimerAsync("ticked", runs.Fn, Interval, new TimerOptions { Trigger = trigger });

        harness.Time.Advance(Interval);
        await runs.NextAsync();
        await harness.Health.WaitForAsync("timer-job-ticked", HealthLevel.Ok, "OK (");

        harness.Metrics.Verify(m => m.TimerRunDuration("ticked", It.IsAny<TimeSpan>(), RunOutcome.Ok, null), Times.Once);
        harness.Metrics.Verify(m => m.TimerTriggerStats(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<int>()), Times.Never);
    }

    [TestMethod]
    public void Constructor_DebounceLongerThanATimerCanWait_ThrowsArgumentOutOfRange()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Trigger(TimeSpan.FromDays(1000)));

        Assert.AreEqual("debounce", error.ParamName);
    }

    [TestMethod]
    public void Constructor_NegativeDebounce_ThrowsArgumentOutOfRange()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Trigger(TimeSpan.FromTicks(-1)));

        Assert.AreEqual("debounce", error.ParamName);
    }
}
