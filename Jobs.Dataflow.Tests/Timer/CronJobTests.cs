using System.Collections.Concurrent;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace Jobs.Dataflow.Tests.Timer;

[TestClass]
public sealed class CronJobTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    private static TimeZoneInfo Berlin => TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [TestMethod]
    public async Task Cron_EveryMinute_RunsAtEachMinute()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("minutely", runs.Fn, "* * * * *"));

        harness.Time.Advance(Minute - TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(0, harness.Time.CallbacksRun, "No run may come before the first occurrence.");
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(start + Minute, await runs.NextAsync());
        harness.Time.Advance(Minute);
        Assert.AreEqual(start + (2 * Minute), await runs.NextAsync());
        harness.Time.Advance(Minute);
        Assert.AreEqual(start + (3 * Minute), await runs.NextAsync());
        Assert.AreEqual(3, runs.Count);
    }

    [TestMethod]
    public async Task Cron_SixFields_ReadsSecondsFirst()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("quarter", runs.Fn, "*/15 * * * * *"));

        harness.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.AreEqual(start + TimeSpan.FromSeconds(15), await runs.NextAsync());
        harness.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.AreEqual(start + TimeSpan.FromSeconds(30), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Cron_TimeZone_ReadsTheTimesInThatZone()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        TimeZoneInfo plusTwo = TimeZoneInfo.CreateCustomTimeZone("plus-two", TimeSpan.FromHours(2), "plus-two", "plus-two");
        await harness.StartTimerAsync(Job.Cron("local", runs.Fn, "0 3 * * *", plusTwo));

        // 03:00 at UTC+2 is 01:00 UTC.
        harness.Time.Advance(TimeSpan.FromHours(1));
        Assert.AreEqual(start + TimeSpan.FromHours(1), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Cron_NoTimeZone_ReadsTheTimesInUtc()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("utc", runs.Fn, "0 3 * * *", timeZone: null));

        harness.Time.Advance(TimeSpan.FromHours(3) - TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(0, harness.Time.CallbacksRun);
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(start + TimeSpan.FromHours(3), await runs.NextAsync());
    }

    [TestMethod]
    public async Task Cron_SpringForwardInBerlin_SkippedTimeRunsOnceAtThree()
    {
        // On 29 March 2026 the clocks in Berlin go from 02:00 CET straight to 03:00 CEST (01:00 UTC).
        await using var harness = new GroupHarness();
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero));
        var runs = new TimerRuns(harness.Time);
        await harness.StartTimerAsync(Job.Cron("nightly", runs.Fn, "30 2 * * *", Berlin));

        var threeOClock = new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero);
        harness.Time.SetUtcNow(threeOClock - TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(0, harness.Time.CallbacksRun);
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(threeOClock, await runs.NextAsync());

        // Nothing more that day: the next run is 02:30 CEST on the 30th (00:30 UTC).
        var nextDay = new DateTimeOffset(2026, 3, 30, 0, 30, 0, TimeSpan.Zero);
        harness.Time.SetUtcNow(nextDay - TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(1, harness.Time.CallbacksRun);
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(nextDay, await runs.NextAsync());
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    public async Task Cron_FallBackInBerlin_RepeatedTimeRunsOnce()
    {
        // On 25 October 2026 Berlin lives 02:00-03:00 twice: 02:30 CEST is 00:30 UTC, 02:30 CET 01:30 UTC.
        await using var harness = new GroupHarness();
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 10, 24, 12, 0, 0, TimeSpan.Zero));
        var runs = new TimerRuns(harness.Time);
        await harness.StartTimerAsync(Job.Cron("nightly", runs.Fn, "30 2 * * *", Berlin));

        var first = new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero);
        harness.Time.SetUtcNow(first);
        Assert.AreEqual(first, await runs.NextAsync());

        harness.Time.SetUtcNow(new DateTimeOffset(2026, 10, 25, 1, 30, 0, TimeSpan.Zero));
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 10, 26, 1, 30, 0, TimeSpan.Zero) - TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(1, harness.Time.CallbacksRun, "The second 02:30 of the night must not tick.");
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(new DateTimeOffset(2026, 10, 26, 1, 30, 0, TimeSpan.Zero), await runs.NextAsync());
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    public async Task Cron_StepThroughTheRepeatedHourInBerlin_RunsInBothCopiesOfIt()
    {
        // 25 October 2026: 02:00-03:00 Berlin time happens twice, 00:00-01:00 UTC (CEST) and
        // 01:00-02:00 UTC (CET). An expression that steps through the hours keeps its pace in real time.
        await using var kit = new JobTestKit(new JobTestKitOptions { Start = new DateTimeOffset(2026, 10, 24, 23, 50, 0, TimeSpan.Zero) });
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Cron(
            "half-hourly",
            _ =>
            {
                runs.Enqueue(kit.Time.GetUtcNow());
                return Task.CompletedTask;
            },
            "*/30 * * * *",
            Berlin));
        await kit.StartAsync();

        await kit.AdvanceAsync(TimeSpan.FromHours(2));

        DateTimeOffset night = new(2026, 10, 25, 0, 0, 0, TimeSpan.Zero);
        CollectionAssert.AreEqual(
            new[] { night, night.AddMinutes(30), night.AddMinutes(60), night.AddMinutes(90) },
            runs.ToArray(),
            "02:00 and 02:30 CEST, then 02:00 and 02:30 CET.");
    }

    [TestMethod]
    public async Task Cron_ClockJumpsTenOccurrences_RunsOnceThenAtTheNextOccurrence()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("minutely", runs.Fn, "* * * * *"));

        harness.Time.Advance(TimeSpan.FromMinutes(10.5));
        Assert.AreEqual(start + TimeSpan.FromMinutes(10.5), await runs.NextAsync());
        Assert.AreEqual(1, harness.Time.CallbacksRun);

        // A second run for the missed occurrences would start at 10.5 minutes, not at 11.
        harness.Time.Advance(TimeSpan.FromMinutes(0.5));
        Assert.AreEqual(start + TimeSpan.FromMinutes(11), await runs.NextAsync());
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    public async Task Cron_WallClockSetBackWhileWaiting_RunsAtTheFirstOccurrenceAfterTheNewTime()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("noon", runs.Fn, "0 12 * * *"));

        // Armed for noon, twelve hours ahead. The wall clock is then set back thirty hours (a
        // machine that booted with its clock ahead, corrected by NTP): its timer still wakes
        // twelve hours on, at six in the morning of the day before, and must then wait for that
        // day's noon, not for the noon it was armed for, a day and a half away.
        harness.Time.AdjustTime(start - TimeSpan.FromHours(30));
        harness.Time.Advance(TimeSpan.FromHours(12));
        Assert.AreEqual(0, runs.Count);
        harness.Time.Advance(TimeSpan.FromHours(6));

        Assert.AreEqual(start - TimeSpan.FromHours(12), await runs.NextAsync());
        harness.Time.Advance(TimeSpan.FromDays(1));
        Assert.AreEqual(start + TimeSpan.FromHours(12), await runs.NextAsync());
        Assert.AreEqual(2, runs.Count);
    }

    [TestMethod]
    public async Task Cron_OccurrencesDuringSlowRun_CoalesceIntoOneRunRightAfterIt()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var probe = new Trigger(timeProvider: new FakeTimeProvider());
        int runsBeforeProbe = -1;
        harness.Metrics.Setup(m => m.TimerTriggerStats("minutely", It.IsAny<TimeSpan>(), It.IsAny<int>()))
            .Callback(() => runsBeforeProbe = runs.Count);
        await harness.StartTimerAsync(Job.Cron("minutely", runs.Fn, "* * * * *", options: new TimerOptions { Trigger = probe }));

        runs.Hold();
        harness.Time.Advance(Minute);
        await runs.NextAsync();
        for (int i = 0; i < 5; i++)
        {
            harness.Time.Advance(Minute);
        }

        runs.Release();
        await runs.NextAsync();

        // The wake-up of a fire queues behind any left-over run, so it shows how many ran.
        probe.Fire();
        await runs.NextAsync();
        Assert.AreEqual(2, runsBeforeProbe);
        Assert.AreEqual(1, runs.MaxActive);
    }

    [TestMethod]
    public async Task Cron_TriggerFires_RunsAtOnceAndKeepsTheOccurrences()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var trigger = new Trigger(timeProvider: new FakeTimeProvider());
        DateTimeOffset start = harness.Time.GetUtcNow();
        await harness.StartTimerAsync(Job.Cron("hourly", runs.Fn, "0 * * * *", options: new TimerOptions { Trigger = trigger }));

        harness.Time.Advance(TimeSpan.FromMinutes(50));
        trigger.Fire();
        Assert.AreEqual(start + TimeSpan.FromMinutes(50), await runs.NextAsync());

        // Unlike an interval, a fired run does not move the schedule: the hour still comes at :00.
        harness.Time.Advance(TimeSpan.FromMinutes(10));
        Assert.AreEqual(start + TimeSpan.FromHours(1), await runs.NextAsync());
        harness.Metrics.Verify(m => m.TimerTriggerStats("hourly", It.IsAny<TimeSpan>(), 1), Times.Once);
    }

    [TestMethod]
    public async Task Cron_FunctionThrows_ReportsUnderTimerJobScopeAndKeepsRunning()
    {
        await using var harness = new GroupHarness();
        var boom = new InvalidOperationException("boom");
        int calls = 0;
        TimerFunc fn = _ => Interlocked.Increment(ref calls) == 1 ? throw boom : Task.CompletedTask;
        await harness.StartTimerAsync(Job.Cron("flaky", fn, "* * * * *"));

        harness.Time.Advance(Minute);
        HealthReport degraded = await harness.Health.WaitForAsync("timer-job-flaky", HealthLevel.Degraded);
        LogEntry logged = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerFailed));
        harness.Time.Advance(Minute);
        await harness.Health.WaitForAsync("timer-job-flaky", HealthLevel.Ok, "OK (");

        Assert.AreSame(boom, degraded.Error);
        Assert.AreEqual("flaky", logged["JobName"]);
        harness.Metrics.Verify(m => m.JobError("flaky", boom), Times.Once);
        harness.Metrics.Verify(m => m.TimerRunDuration("flaky", It.IsAny<TimeSpan>(), RunOutcome.Ok, null), Times.Once);
    }

    [TestMethod]
    public async Task Cron_Started_LogsTheNextOccurrenceInTheZone()
    {
        await using var harness = new GroupHarness();
        await harness.StartTimerAsync(Job.Cron("nightly", _ => Task.CompletedTask, "30 2 * * *", Berlin));

        LogEntry next = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.CronNextRun));
        Assert.AreEqual(LogLevel.Debug, next.Level);
        var logged = (DateTimeOffset)next["Next"]!;
        Assert.AreEqual(new DateTimeOffset(2026, 1, 1, 1, 30, 0, TimeSpan.Zero), logged);
        Assert.AreEqual(TimeSpan.FromHours(1), logged.Offset, "Logged in the zone's local time (CET).");
    }

    [TestMethod]
    public async Task StopAsync_CronTimer_DisposesItsTimerAndEnds()
    {
        var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        Job job = Job.Cron("minutely", runs.Fn, "* * * * *");
        await harness.StartTimerAsync(job);

        await harness.StopAsync();
        await job.Completion.OrTimeout();
        harness.Time.Advance(TimeSpan.FromHours(1));

        Assert.AreEqual(0, harness.Time.CallbacksRun);
        Assert.AreEqual(0, runs.Count);
    }

    [TestMethod]
    public void Cron_BadInput_ThrowsWhereGiven()
    {
        TimerFunc fn = _ => Task.CompletedTask;

        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Cron("c", null!, "* * * * *")).ParamName);
        Assert.AreEqual("expression", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Cron("c", fn, null!)).ParamName);
        foreach (string bad in new[] { string.Empty, "   ", "every minute", "60 * * * *", "* * * *", "* * * * * * *", "0 0 30 2 *", "H * * * *" })
        {
            ArgumentException error = Assert.ThrowsExactly<ArgumentException>(() => Job.Cron("c", fn, bad), $"'{bad}'");
            Assert.AreEqual("expression", error.ParamName, $"'{bad}'");
        }

        Assert.ThrowsExactly<ArgumentNullException>(() => Job.Cron(null!, fn, "* * * * *"));
        Assert.ThrowsExactly<ArgumentException>(() => Job.Cron(string.Empty, fn, "* * * * *"));
        Assert.AreEqual("timer-job-ok", ((TimerJob)Job.Cron("ok", fn, "@daily", Berlin)).HealthScopeName);
    }
}
