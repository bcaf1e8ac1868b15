using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace Jobs.Dataflow.Tests.Timer;

[TestClass]
public sealed class RunAtStartTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task RunAtStart_Interval_RunsAtStartThenOneIntervalAfterThatRun()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync("eager", runs.Fn, Interval, new TimerOptions { RunAtStart = true });

        Assert.AreEqual(start, await runs.NextAsync());
        await harness.Health.WaitForAsync("timer-job-eager", HealthLevel.Ok, "OK (");
        harness.Time.Advance(TimeSpan.FromSeconds(3));
        harness.Time.Advance(Interval - TimeSpan.FromSeconds(3));
        Assert.AreEqual(start + Interval, await runs.NextAsync());
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    public async Task RunAtStart_Cron_RunsAtStartThenAtTheOccurrences()
    {
        await using var harness = new GroupHarness();
        harness.Time.Advance(TimeSpan.FromSeconds(40));
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("eager", runs.Fn, "* * * * *", options: new TimerOptions { RunAtStart = true }));

        Assert.AreEqual(start, await runs.NextAsync());
        await harness.Health.WaitForAsync("timer-job-eager", HealthLevel.Ok, "OK (");

        // The run at start does not move the occurrences: the next is the next whole minute.
        harness.Time.Advance(TimeSpan.FromSeconds(20));
        Assert.AreEqual(start + TimeSpan.FromSeconds(20), await runs.NextAsync());
    }

    [TestMethod]
    public async Task RunAtStart_WithAFireBeforeStart_BothFoldIntoOneRun()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new FakeTimeProvider());
        int runsBeforeLastFiredRun = -1;
        harness.Metrics.Setup(m => m.TimerTriggerStats("eager", It.IsAny<TimeSpan>(), It.IsAny<int>()))
            .Callback(() => runsBeforeLastFiredRun = runs.Count);
        trigger.Fire();
        await harness.StartTimerAsync("eager", runs.Fn, Interval, new TimerOptions { RunAtStart = true, Trigger = trigger });
        await runs.NextAsync();
        await harness.Health.WaitForAsync("timer-job-eager", HealthLevel.Ok, "OK (");

        // A probe fire: its wake-up queues behind a second run of the start, if there were one.
        trigger.Fire();
        await runs.NextAsync();
        Assert.AreEqual(1, runsBeforeLastFiredRun);
        harness.Metrics.Verify(m => m.TimerTriggerStats("eager", It.IsAny<TimeSpan>(), 1), Times.Exactly(2));
    }
}
