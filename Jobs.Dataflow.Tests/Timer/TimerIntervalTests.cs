using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Tests.Timer;

[TestClass]
public sealed class TimerIntervalTests
{
    private static readonly TimeSpan Ten = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    [TestMethod]
    public async Task Change_ShorterMidWait_NextTickFromTheStartOfTheCurrentInterval()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));

        harness.Time.Advance(TimeSpan.FromSeconds(4));
        interval.Change(TimeSpan.FromSeconds(6));
        harness.Time.Advance(TimeSpan.FromSeconds(2) - Tick);
        Assert.AreEqual(0, harness.Time.CallbacksRun);
        harness.Time.Advance(Tick);
        Assert.AreEqual(start + TimeSpan.FromSeconds(6), await runs.NextAsync());

        // From then on the new interval, from the start of that run.
        harness.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.AreEqual(start + TimeSpan.FromSeconds(12), await runs.NextAsync());
        Assert.AreEqual(TimeSpan.FromSeconds(6), interval.Value);
    }

    [TestMethod]
    public async Task Change_ShorterThanTheTimeAlreadyWaited_TicksAtOnce()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));

        harness.Time.Advance(TimeSpan.FromSeconds(7));
        interval.Change(TimeSpan.FromSeconds(5));
        Assert.AreEqual(start + TimeSpan.FromSeconds(7), await runs.NextAsync());
        await harness.Health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");

        harness.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.AreEqual(start + TimeSpan.FromSeconds(12), await runs.NextAsync());
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    [DataRow(1.0, DisplayName = "an hour back")]
    [DataRow(24.0 * 60, DisplayName = "60 days back, more than a timer can wait")]
    public async Task Change_AfterTheClockWasSetBack_NextTickOneNewIntervalFromNow(double hoursBack)
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(TimeSpan.FromMinutes(1));
        await harness.StartTimerAsync(Job.Timer("poll", runs.Fn, interval));
        DateTimeOffset setBack = harness.Time.GetUtcNow() - TimeSpan.FromHours(hoursBack);
        harness.Time.AdjustTime(setBack);

        // The time since the interval began reads negative: it counts as none, so the wait is the
        // new interval, neither that plus the step nor a wait no timer can take.
        interval.Change(TimeSpan.FromMinutes(2));
        harness.Time.Advance(TimeSpan.FromMinutes(2));

        Assert.AreEqual(setBack + TimeSpan.FromMinutes(2), await runs.NextAsync());
        Assert.AreEqual(TimeSpan.FromMinutes(2), interval.Value);
    }

    [TestMethod]
    public async Task Change_TwiceAfterTheClockWasSetBack_TheSecondCountsFromTheFirst()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(TimeSpan.FromMinutes(1));
        await harness.StartTimerAsync(Job.Timer("poll", runs.Fn, interval));
        DateTimeOffset setBack = harness.Time.GetUtcNow() - TimeSpan.FromHours(1);
        harness.Time.AdjustTime(setBack);

        interval.Change(TimeSpan.FromMinutes(2));
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        interval.Change(TimeSpan.FromMinutes(3));

        // The first change began the interval at the set-back time, so the tick is 3 minutes after it.
        Assert.AreEqual(setBack + TimeSpan.FromMinutes(3), harness.Time.NextDue);
        harness.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.AreEqual(setBack + TimeSpan.FromMinutes(3), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Change_LongerMidWait_NextTickFromTheStartOfTheCurrentInterval()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));

        harness.Time.Advance(TimeSpan.FromSeconds(4));
        interval.Change(TimeSpan.FromSeconds(30));
        harness.Time.Advance(TimeSpan.FromSeconds(26) - Tick);
        Assert.AreEqual(0, harness.Time.CallbacksRun, "The old interval's tick at 10 s must not come.");
        Assert.AreEqual(0, runs.Count);
        harness.Time.Advance(Tick);
        Assert.AreEqual(start + TimeSpan.FromSeconds(30), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Change_AfterARun_CountsFromThatRunsStart()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));
        harness.Time.Advance(Ten);
        await runs.NextAsync();
        await harness.Health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");

        harness.Time.Advance(TimeSpan.FromSeconds(3));
        interval.Change(TimeSpan.FromSeconds(5));
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.AreEqual(start + TimeSpan.FromSeconds(15), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Change_BeforeStart_TheTimerStartsWithTheNewInterval()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        Job job = Job.Timer("tick", runs.Fn, interval);
        interval.Change(TimeSpan.FromSeconds(3));
        await harness.StartTimerAsync(job);

        harness.Time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual(start + TimeSpan.FromSeconds(3), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Change_OneIntervalTwoTimers_ChangesEachFromItsOwnLastRun()
    {
        await using var harness = new GroupHarness();
        var first = new TimerRuns(harness.Time);
        var second = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("first", first.Fn, interval));
        harness.Time.Advance(TimeSpan.FromSeconds(4));
        harness.Add(Job.Timer("second", second.Fn, interval));
        await harness.Health.WaitForAsync("timer-job-second", HealthLevel.Ok, "Primed");

        harness.Time.Advance(TimeSpan.FromSeconds(1));
        interval.Change(TimeSpan.FromSeconds(8));
        harness.Time.Advance(TimeSpan.FromSeconds(3));
        Assert.AreEqual(start + TimeSpan.FromSeconds(8), await first.NextAsync());
        harness.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.AreEqual(start + TimeSpan.FromSeconds(12), await second.NextAsync());
    }

    [TestMethod]
    public async Task Change_RunningTimer_LogsTheNewInterval()
    {
        await using var harness = new GroupHarness();
        var interval = new TimerInterval(Ten);
        await harness.StartTimerAsync(Job.Timer("tick", _ => Task.CompletedTask, interval));

        interval.Change(TimeSpan.FromSeconds(90));

        LogEntry logged = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerIntervalChanged));
        Assert.AreEqual(LogLevel.Information, logged.Level);
        Assert.AreEqual("tick", logged["JobName"]);
        Assert.AreEqual("1m30s", logged["Interval"]);
    }

    [TestMethod]
    public async Task Change_AfterTheJobEnded_TouchesNoTimer()
    {
        var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));
        await harness.StopAsync();

        interval.Change(TimeSpan.FromSeconds(1));
        harness.Time.Advance(TimeSpan.FromMinutes(1));

        Assert.AreEqual(0, harness.Time.CallbacksRun);
        Assert.AreEqual(0, runs.Count);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.TimerIntervalChanged)));
    }

    [TestMethod]
    public async Task Change_FromManyThreads_LeavesTheTimerOnTheLastValue()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, interval));

        await Task.WhenAll(Enumerable.Range(1, 8).Select(i => Task.Run(() =>
        {
            for (int n = 0; n < 200; n++)
            {
                interval.Change(TimeSpan.FromSeconds(100 + ((i * n) % 50)));
            }
        }))).OrTimeout();
        interval.Change(TimeSpan.FromSeconds(20));

        harness.Time.Advance(TimeSpan.FromSeconds(20) - Tick);
        Assert.AreEqual(0, harness.Time.CallbacksRun);
        harness.Time.Advance(Tick);
        Assert.AreEqual(start + TimeSpan.FromSeconds(20), await runs.NextAsync());
    }

    [TestMethod]
    public void TimerInterval_BadInterval_ThrowsNamingInterval()
    {
        var interval = new TimerInterval(Ten);
        foreach (TimeSpan bad in new[] { TimeSpan.Zero, TimeSpan.FromTicks(-1), TimeSpan.FromTicks(1), TimeSpan.FromMilliseconds(1) - TimeSpan.FromTicks(1), Timeout.InfiniteTimeSpan, TimeSpan.FromDays(50), TimeSpan.MaxValue })
        {
            Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TimerInterval(bad)).ParamName);
            Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => interval.Change(bad)).ParamName);
        }

        Assert.AreEqual(Ten, interval.Value, "A rejected change leaves the interval as it was.");
        interval.Change(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(TimeSpan.FromMilliseconds(1), interval.Value, "1 ms is the shortest interval.");
        Assert.AreEqual("interval", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Timer("t", _ => Task.CompletedTask, (TimerInterval)null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Timer("t", null!, interval)).ParamName);
    }
}
