using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Time.Testing;

namespace Jobs.Dataflow.Tests.Timer;

/// <summary>When a changeable interval and a cron expression arm their timer.</summary>
[TestClass]
public sealed class TimerScheduleTests
{
    private static readonly TimeSpan Ten = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task ChangeableInterval_TriggeredRun_RestartsTheInterval()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new FakeTimeProvider());
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, new TimerInterval(Ten), new TimerOptions { Trigger = trigger }));

        harness.Time.Advance(TimeSpan.FromSeconds(4));
        trigger.Fire();
        await runs.NextAsync();
        await harness.Health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");
        harness.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.AreEqual(0, harness.Time.CallbacksRun, "The tick of the interval the run restarted must not come.");
        harness.Time.Advance(TimeSpan.FromSeconds(4));

        Assert.AreEqual(start + TimeSpan.FromSeconds(14), await runs.NextAsync());
    }

    [TestMethod]
    public async Task ChangeableInterval_ChangedToTheValueInForce_NeitherMovesNorLogs()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));

        harness.Time.Advance(TimeSpan.FromSeconds(4));
        interval.Change(Ten);

        Assert.AreEqual(start + Ten, harness.Time.NextDue);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.TimerIntervalChanged)));
        harness.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.AreEqual(start + Ten, await runs.NextAsync());
    }

    [TestMethod]
    public async Task Cron_NextOccurrenceBeyondATimersLongestWait_WaitsInStepsAndRunsOnlyAtTheOccurrence()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        DateTimeOffset occurrence = start.AddYears(1);
        await harness.StartTimerAsync(Job.Cron("yearly", runs.Fn, "0 0 1 1 *"));

        Assert.AreEqual(start + Timers.MaxDelay, harness.Time.NextDue, "Armed for the longest a timer can wait.");
        int wakes = 0;
        while (harness.Time.GetUtcNow() < occurrence)
        {
            harness.Time.Advance(harness.Time.NextDue!.Value - harness.Time.GetUtcNow());
            wakes++;
            if (harness.Time.GetUtcNow() < occurrence)
            {
                Assert.AreEqual(0, runs.Count, "A wake-up before the occurrence runs nothing.");
            }
        }

        Assert.AreEqual(occurrence, await runs.NextAsync());
        Assert.AreEqual(8, wakes, "365 days in waits of at most 49.7 days.");
    }

    [TestMethod]
    public async Task Cron_AfterEachTick_LogsTheNextOccurrence()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("minutely", runs.Fn, "* * * * *"));

        harness.Time.Advance(TimeSpan.FromMinutes(1));
        await runs.NextAsync();

        LogEntry next = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.CronNextRun) && Equals(e["Next"], start + TimeSpan.FromMinutes(2)));
        Assert.AreEqual("minutely", next["JobName"]);
    }
}
