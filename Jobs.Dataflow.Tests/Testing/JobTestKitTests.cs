using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Jobs.Dataflow.Tests.Testing;

/// <summary>The test kit, used as a user would: no sleeps, no real time, no waits of its own.</summary>
[TestClass]
public sealed class JobTestKitTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [TestMethod]
    public async Task AdvanceAsync_ThreeIntervals_RunsTheTimerThreeTimesEachAtItsOwnTime()
    {
        await using var kit = new JobTestKit();
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Timer("refresh", _ => Record(runs, kit.Time), TimeSpan.FromMinutes(1)));
        await kit.StartAsync();

        await kit.AdvanceAsync(TimeSpan.FromMinutes(3.5));

        CollectionAssert.AreEqual(
            new[] { Start.AddMinutes(1), Start.AddMinutes(2), Start.AddMinutes(3) },
            runs.ToArray());
        Assert.AreEqual(Start.AddMinutes(3.5), kit.Time.GetUtcNow());
    }

    [TestMethod]
    [DataRow(60, DisplayName = "set forward an hour")]
    [DataRow(-60, DisplayName = "set back an hour")]
    public async Task AdvanceAsync_AfterTheClockWasSet_RunsTheTimerAtEachIntervalFromTheNewTime(int minutes)
    {
        await using var kit = new JobTestKit();
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Timer("refresh", _ => Record(runs, kit.Time), TimeSpan.FromMinutes(1)));
        await kit.StartAsync();
        DateTimeOffset set = Start.AddMinutes(minutes);

        kit.Time.AdjustTime(set);
        await kit.AdvanceAsync(TimeSpan.FromMinutes(3.5));

        CollectionAssert.AreEqual(new[] { set.AddMinutes(1), set.AddMinutes(2), set.AddMinutes(3) }, runs.ToArray());
        Assert.AreEqual(set.AddMinutes(4), kit.Time.NextDue);
    }

    [TestMethod]
    public async Task AdjustTime_ReadingTheClockRunsADueTimersCallback_TheCallbackRunsOutsideTheClocksLock()
    {
        // With AutoAdvanceAmount, reading the fake clock moves it and runs the timers that fall
        // due: such a callback must not run under the clock's lock, or it could not read the clock.
        var clock = new TestClock(Start) { AutoAdvanceAmount = TimeSpan.FromSeconds(1) };
        var readNextDue = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using ITimer timer = clock.CreateTimer(
            _ => readNextDue.TrySetResult(Task.Run(() => clock.NextDue).Wait(Waits.Timeout)),
            null,
            TimeSpan.FromMilliseconds(500),
            Timeout.InfiniteTimeSpan);

        clock.AdjustTime(Start + TimeSpan.FromHours(1));

        Assert.IsTrue(await readNextDue.Task.OrTimeout(), "Another thread could read the clock while the callback ran.");
    }

    [TestMethod]
    public void Clock_TimerChangedToATimeNoTimerTakes_ThrowsAndKeepsItsDueTime()
    {
        var clock = new TestClock(Start);
        using ITimer timer = clock.CreateTimer(_ => { }, null, TimeSpan.FromMinutes(1), Timeout.InfiniteTimeSpan);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => timer.Change(TimeSpan.FromDays(60), Timeout.InfiniteTimeSpan));

        Assert.AreEqual("dueTime", error.ParamName);
        Assert.AreEqual(Start.AddMinutes(1), clock.NextDue);
        Assert.AreEqual("period", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => clock.CreateTimer(_ => { }, null, TimeSpan.Zero, TimeSpan.FromMilliseconds(-2))).ParamName);
        Assert.AreEqual(1, clock.ArmedTimers);
    }

    [TestMethod]
    public void Clock_WithAutoAdvance_RecordsTheTimeTheTimerReallyFallsDue()
    {
        // A read moves such a clock on after it, and the fake clock's timer counts from there.
        var clock = new TestClock(Start) { AutoAdvanceAmount = TimeSpan.FromSeconds(1) };
        int fired = 0;
        using ITimer timer = clock.CreateTimer(_ => Interlocked.Increment(ref fired), null, TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);
        DateTimeOffset due = clock.NextDue!.Value;

        clock.SetUtcNow(due - TimeSpan.FromTicks(1));
        Assert.AreEqual(0, Volatile.Read(ref fired));
        clock.SetUtcNow(due);
        Assert.AreEqual(1, Volatile.Read(ref fired));
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_AfterAFire_TheTriggeredRunHasHappened()
    {
        await using var kit = new JobTestKit();
        var trigger = new Trigger(timeProvider: kit.Time);
        int runs = 0;
        kit.Add(Job.Timer("refresh", _ => Task.FromResult(Interlocked.Increment(ref runs)), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
        await kit.StartAsync();

        for (int i = 1; i <= 20; i++)
        {
            trigger.Fire();
            await kit.WaitUntilIdleAsync();
            Assert.AreEqual(i, Volatile.Read(ref runs), "Each fire's run is over when the kit says idle.");
        }
    }

    [TestMethod]
    public async Task AdvanceAsync_FireHeldByTheDebounce_RunsWhenTheWindowEnds()
    {
        await using var kit = new JobTestKit();
        var trigger = new Trigger(TimeSpan.FromSeconds(30), kit.Time);
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Timer("debounced", _ => Record(runs, kit.Time), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
        await kit.StartAsync();
        trigger.Fire();
        await kit.WaitUntilIdleAsync();

        trigger.Fire();
        await kit.WaitUntilIdleAsync();
        Assert.AreEqual(1, runs.Count, "The second fire is held by the window: the kit is idle, waiting on time.");

        await kit.AdvanceAsync(TimeSpan.FromMinutes(1));
        CollectionAssert.AreEqual(new[] { Start, Start.AddSeconds(30) }, runs.ToArray());
    }

    [TestMethod]
    public async Task AdvanceAsync_FiresHeldByTwoWindowsInTurn_EachRunsWhenItsWindowEnds()
    {
        await using var kit = new JobTestKit();
        var trigger = new Trigger(TimeSpan.FromSeconds(5), kit.Time);
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Timer("debounced", _ => Record(runs, kit.Time), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
        await kit.StartAsync();
        trigger.Fire();
        await kit.WaitUntilIdleAsync();

        await kit.AdvanceAsync(TimeSpan.FromSeconds(1));
        trigger.Fire();
        await kit.AdvanceAsync(TimeSpan.FromSeconds(5));
        trigger.Fire();
        await kit.AdvanceAsync(TimeSpan.FromSeconds(10));

        CollectionAssert.AreEqual(
            new[] { Start, Start.AddSeconds(5), Start.AddSeconds(10) },
            runs.ToArray(),
            "The second hold opens the same window timer again, from the run at 5 s.");
    }

    [TestMethod]
    public async Task Fire_AfterARunOnlyTheIntervalAsked_IsNotHeld()
    {
        // The debounce counts from the last run that took fires: a tick of the interval takes none.
        await using var kit = new JobTestKit();
        var trigger = new Trigger(TimeSpan.FromSeconds(5), kit.Time);
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Timer("ticking", _ => Record(runs, kit.Time), TimeSpan.FromSeconds(10), new TimerOptions { Trigger = trigger }));
        await kit.StartAsync();
        trigger.Fire();
        await kit.WaitUntilIdleAsync();
        await kit.AdvanceAsync(TimeSpan.FromSeconds(11));

        trigger.Fire();
        await kit.WaitUntilIdleAsync();

        CollectionAssert.AreEqual(new[] { Start, Start.AddSeconds(10), Start.AddSeconds(11) }, runs.ToArray());
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_ItemsWrittenToAChannel_EveryItemIsHandled()
    {
        await using var kit = new JobTestKit();
        var channel = Channel.CreateUnbounded<int>();
        int handled = 0;
        kit.Add(Job.Observer(
            "orders",
            async (int _, CancellationToken _) =>
            {
                await Task.Yield();
                Interlocked.Increment(ref handled);
            },
            channel.Reader,
            new ObserverOptions { BoundedCapacity = 4 }));
        await kit.StartAsync();

        for (int round = 1; round <= 5; round++)
        {
            for (int i = 0; i < 100; i++)
            {
                channel.Writer.TryWrite(i);
            }

            await kit.WaitUntilIdleAsync();
            Assert.AreEqual(round * 100, Volatile.Read(ref handled));
        }
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_AStreamThatWaitsThenYields_TheItemIsHandled()
    {
        await using var kit = new JobTestKit();
        var gates = new SteppedGates(10);
        int handled = 0;
        kit.Add(Job.Observer("stream", (int _, CancellationToken _) => Task.FromResult(Interlocked.Increment(ref handled)), gates.ReadAsync()));
        await kit.StartAsync();

        for (int i = 1; i <= 10; i++)
        {
            gates.Open(i - 1);
            await kit.WaitUntilIdleAsync();
            Assert.AreEqual(i, Volatile.Read(ref handled));
        }
    }

    [TestMethod]
    public async Task AdvanceAsync_PipelineWithABatchDelay_SinksFullBatchesAtOnceAndThePartialOneAtItsDelay()
    {
        await using var kit = new JobTestKit();
        var channel = Channel.CreateUnbounded<int>();
        var batches = new ConcurrentQueue<(DateTimeOffset At, int Size)>();
        kit.Add(Job.Pipeline("etl", channel.Reader)
            .Transform("double", x => x * 2)
            .Batch("batch", 10, TimeSpan.FromSeconds(5))
            .Sink("write", (int[] batch, CancellationToken _) =>
            {
                batches.Enqueue((kit.Time.GetUtcNow(), batch.Length));
                return Task.CompletedTask;
            }));
        await kit.StartAsync();

        for (int i = 0; i < 25; i++)
        {
            channel.Writer.TryWrite(i);
        }

        await kit.WaitUntilIdleAsync();
        CollectionAssert.AreEqual(new[] { (Start, 10), (Start, 10) }, batches.ToArray());

        await kit.AdvanceAsync(TimeSpan.FromSeconds(10));
        CollectionAssert.AreEqual(new[] { (Start, 10), (Start, 10), (Start.AddSeconds(5), 5) }, batches.ToArray());
    }

    [TestMethod]
    public async Task AdvanceAsync_OneShotWithBackoff_RetriesAtEachBackoffAndSucceeds()
    {
        await using var kit = new JobTestKit();
        var attempts = new ConcurrentQueue<DateTimeOffset>();
        Job job = Job.OneShot(
            "connect",
            (_, _) =>
            {
                attempts.Enqueue(kit.Time.GetUtcNow());
                return attempts.Count < 3 ? throw new IOException("refused") : Task.CompletedTask;
            },
            new OneShotOptions { Retries = 5, Backoff = new ConstantBackoff(TimeSpan.FromMinutes(1)) });
        kit.Add(job);
        await kit.StartAsync();
        Assert.AreEqual(1, attempts.Count, "Idle while the backoff waits on time.");

        await kit.AdvanceAsync(TimeSpan.FromMinutes(5));

        CollectionAssert.AreEqual(new[] { Start, Start.AddMinutes(1), Start.AddMinutes(2) }, attempts.ToArray());
        Assert.IsTrue(job.Completion.IsCompleted);
        HealthStatus health = await kit.WaitForHealthAsync(job, HealthLevel.Ok);
        StringAssert.StartsWith(health.Message, "Finished");
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_AJobThatNeverFinishes_TimesOutNamingIt()
    {
        await using var kit = new JobTestKit(new JobTestKitOptions { Timeout = TimeSpan.FromMilliseconds(200) });
        var never = new TaskCompletionSource();
        kit.Add(Job.OneShot("stuck", (_, _) => never.Task));
        await kit.Group.StartAsync(CancellationToken.None);

        var error = await Assert.ThrowsExactlyAsync<TimeoutException>(() => kit.WaitUntilIdleAsync());

        StringAssert.Contains(error.Message, "one-shot job stuck: running an attempt");
        never.SetResult();
    }

    [TestMethod]
    public async Task WaitForTimerArmedAsync_ByTheNameTheUserGave_ReturnsOnceTheTimerIsArmed()
    {
        await using var kit = new JobTestKit();
        int runs = 0;
        kit.Add(Job.Timer("nightly report", _ => Task.FromResult(Interlocked.Increment(ref runs)), TimeSpan.FromHours(24)));
        await kit.Group.StartAsync(CancellationToken.None);

        await kit.WaitForTimerArmedAsync("nightly report");
        kit.Time.Advance(TimeSpan.FromHours(24));
        await kit.WaitUntilIdleAsync();

        Assert.AreEqual(1, Volatile.Read(ref runs));
        Assert.AreEqual(Start.AddHours(48), kit.Time.NextDue, "The next run is armed a day later.");
    }

    [TestMethod]
    public async Task WaitForTimerArmedAsync_AMisspeltName_TimesOutNamingTheTimersThatRun()
    {
        await using var kit = new JobTestKit(new JobTestKitOptions { Timeout = TimeSpan.FromMilliseconds(200) });
        kit.Add(
            Job.Timer("nightly-report", _ => Task.CompletedTask, TimeSpan.FromHours(24)),
            Job.Timer("refresh", _ => Task.CompletedTask, TimeSpan.FromHours(1)),
            Job.OneShot("import", (_, _) => Task.CompletedTask));
        await kit.StartAsync();

        var error = await Assert.ThrowsExactlyAsync<TimeoutException>(() => kit.WaitForTimerArmedAsync("nightly-reprot"));

        StringAssert.Contains(error.Message, "No timer job nightly-reprot armed its timer");
        StringAssert.EndsWith(error.Message, "Timer jobs running: nightly-report, refresh.");
    }

    [TestMethod]
    public async Task WaitForTimerArmedAsync_NoTimerInTheGroup_TimesOutSayingSo()
    {
        await using var kit = new JobTestKit(new JobTestKitOptions { Timeout = TimeSpan.FromMilliseconds(200) });
        await kit.StartAsync();

        var error = await Assert.ThrowsExactlyAsync<TimeoutException>(() => kit.WaitForTimerArmedAsync("refresh"));

        StringAssert.EndsWith(error.Message, "No timer job is running.");
    }

    [TestMethod]
    public async Task Kit_MetricsLogsAndShutdowns_AreRecordedForAssertions()
    {
        await using var kit = new JobTestKit();
        using MetricCollector<double> durations = kit.CollectMetric<double>("jobs.timer.run.duration");
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        kit.Add(Job.Timer(
            "fails",
            async token =>
            {
                Task delay = Task.Delay(TimeSpan.FromSeconds(2), kit.Time, token);
                waiting.TrySetResult();
                await delay;
                throw new InvalidOperationException("boom");
            },
            TimeSpan.FromMinutes(1),
            new TimerOptions { ShutdownOnError = true }));
        await kit.StartAsync();

        // The run awaits the kit's clock, so the test moves the clock itself for that wait.
        kit.Time.Advance(TimeSpan.FromMinutes(1));
        await waiting.Task.WaitAsync(kit.Timeout);
        kit.Time.Advance(TimeSpan.FromSeconds(2));
        Exception? requested = await kit.Shutdowner.WaitForRequestAsync(kit.Timeout);
        await kit.WaitUntilIdleAsync();

        Assert.IsInstanceOfType<InvalidOperationException>(requested);
        CollectedMeasurement<double> run = durations.GetMeasurementSnapshot().Single();
        Assert.AreEqual(2.0, run.Value, 1e-9);
        Assert.AreEqual("error", run.Tags["job.outcome"]);
        Assert.IsTrue(kit.Logs.GetSnapshot().Any(entry => entry.Exception?.Message == "boom"));
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true, DisplayName = "The source has ended: only the retry is left")]
    public async Task AdvanceAsync_StageRetriesAfterABackoff_TheRetryRunsAtItsTime(bool sourceEnded)
    {
        await using var kit = new JobTestKit();
        var channel = Channel.CreateUnbounded<int>();
        var attempts = new ConcurrentQueue<DateTimeOffset>();
        var written = new ConcurrentQueue<int>();
        kit.Add(Job.Pipeline("flaky", channel.Reader)
            .Transform(
                "call",
                (int x) =>
                {
                    attempts.Enqueue(kit.Time.GetUtcNow());
                    return attempts.Count < 3 ? throw new IOException("busy") : x;
                },
                new StageOptions { Retries = 5, Backoff = new ConstantBackoff(TimeSpan.FromSeconds(30)) })
            .Sink("write", (int x, CancellationToken _) =>
            {
                written.Enqueue(x);
                return Task.CompletedTask;
            }));
        await kit.StartAsync();

        channel.Writer.TryWrite(7);
        if (sourceEnded)
        {
            channel.Writer.Complete();
        }

        await kit.WaitUntilIdleAsync();
        Assert.AreEqual(1, attempts.Count, "The stage waits on time for its retry: the kit is idle.");

        await kit.AdvanceAsync(TimeSpan.FromMinutes(2));

        CollectionAssert.AreEqual(new[] { Start, Start.AddSeconds(30), Start.AddSeconds(60) }, attempts.ToArray());
        CollectionAssert.AreEqual(new[] { 7 }, written.ToArray());
    }

    [TestMethod]
    public async Task AdvanceAsync_CronInAZone_RunsAtEachOccurrence()
    {
        await using var kit = new JobTestKit();
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Cron("quarterly", _ => Record(runs, kit.Time), "*/15 * * * *", TimeZoneInfo.Utc));
        await kit.StartAsync();

        await kit.AdvanceAsync(TimeSpan.FromHours(1));

        CollectionAssert.AreEqual(
            new[] { Start.AddMinutes(15), Start.AddMinutes(30), Start.AddMinutes(45), Start.AddMinutes(60) },
            runs.ToArray());
    }

    [TestMethod]
    public async Task AdvanceAsync_IntervalChangedWhileTheTimerWaits_TicksOnTheNewInterval()
    {
        await using var kit = new JobTestKit();
        var interval = new TimerInterval(TimeSpan.FromMinutes(10));
        var runs = new ConcurrentQueue<DateTimeOffset>();
        kit.Add(Job.Timer("poll", _ => Record(runs, kit.Time), interval));
        await kit.StartAsync();
        await kit.AdvanceAsync(TimeSpan.FromMinutes(4));

        interval.Change(TimeSpan.FromMinutes(5));
        await kit.AdvanceAsync(TimeSpan.FromMinutes(11));

        CollectionAssert.AreEqual(new[] { Start.AddMinutes(5), Start.AddMinutes(10), Start.AddMinutes(15) }, runs.ToArray());
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_ATimerCallbackOnTheKitsClockThrew_ThrowsItAndTheClocksOtherTimersStillFire()
    {
        await using var kit = new JobTestKit();
        var ran = new SemaphoreSlim(0);
        kit.Add(Job.Timer("steady", _ => Task.FromResult(ran.Release()), TimeSpan.FromMinutes(1)));
        await kit.StartAsync();
        using ITimer faulty = kit.Time.CreateTimer(_ => throw new InvalidOperationException("bad callback"), null, TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);

        kit.Time.Advance(TimeSpan.FromMinutes(1));
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => kit.WaitUntilIdleAsync());

        Assert.AreEqual("bad callback", error.InnerException!.Message);
        Assert.IsTrue(await ran.WaitAsync(kit.Timeout), "The timer due after the throwing one still fired.");
    }

    [TestMethod]
    public async Task AdvanceAsync_NegativeSpanOrPastTheClocksEnd_ThrowsNamingTheSpan()
    {
        await using var kit = new JobTestKit();

        foreach (TimeSpan bad in new[] { TimeSpan.FromSeconds(-1), TimeSpan.MaxValue, DateTimeOffset.MaxValue - Start + TimeSpan.FromTicks(1) })
        {
            var error = await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(() => kit.AdvanceAsync(bad));

            Assert.AreEqual("span", error.ParamName, bad.ToString());
        }

        Assert.AreEqual(Start, kit.Time.GetUtcNow(), "A rejected advance leaves the clock where it was.");
    }

    [TestMethod]
    public void Options_TimeoutNotPositiveOrLongerThanATimerCanWait_ThrowsNamingIt()
    {
        foreach (TimeSpan bad in new[] { TimeSpan.Zero, TimeSpan.FromDays(50), TimeSpan.MaxValue })
        {
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new JobTestKitOptions { Timeout = bad });

            Assert.AreEqual("Timeout", error.ParamName, bad.ToString());
        }

        Assert.AreEqual(TimeSpan.FromDays(49), new JobTestKitOptions { Timeout = TimeSpan.FromDays(49) }.Timeout);
    }

    [TestMethod]
    public async Task WaitForHealthAsync_JobOfAScopedView_FindsItsScopeUnderTheView()
    {
        await using var kit = new JobTestKit();
        var error = new InvalidOperationException("schema missing");
        Job job = Job.OneShot("migrate", (_, _) => throw error);
        kit.Group.Scoped("area").Add(job);
        await kit.StartAsync();

        HealthStatus status = await kit.WaitForHealthAsync(job, HealthLevel.Failed);

        HealthStatus underTheView = kit.Health.Snapshot().Find("area", "job-migrate")!;
        Assert.AreEqual((underTheView.Level, underTheView.Message), (status.Level, status.Message));
        Assert.AreSame(error, status.Error);
    }

    [TestMethod]
    public async Task TimerOnTheKitsClock_ChangedToBeDueNow_FiresAndIsDueOnePeriodLater()
    {
        await using var kit = new JobTestKit();
        int fired = 0;
        using ITimer timer = kit.Time.CreateTimer(_ => Interlocked.Increment(ref fired), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

        timer.Change(TimeSpan.Zero, TimeSpan.FromSeconds(1));

        Assert.AreEqual(1, fired);
        Assert.AreEqual(Start.AddSeconds(1), kit.Time.NextDue, "A firing inside Change moves the due time on from the new one.");
        await kit.AdvanceAsync(TimeSpan.FromSeconds(2));
        Assert.AreEqual(3, fired);
        Assert.AreEqual(Start.AddSeconds(3), kit.Time.NextDue);
    }

    [TestMethod]
    public async Task StopAsync_StreamIgnoresCancellation_EndsAfterTheGraceOnTheSystemClock()
    {
        // Nobody advances the kit's clock during a stop: a grace on it would make the stop last the
        // kit's whole Timeout (5 minutes here) instead of the grace, about a second of real time.
        await using var kit = new JobTestKit(new JobTestKitOptions { Timeout = TimeSpan.FromMinutes(5) });
        kit.Add(Job.Observer("stuck", (int _, CancellationToken _) => Task.CompletedTask, NeverYields()));
        await kit.StartAsync();

        await kit.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.IsTrue(kit.Logs.GetSnapshot().Any(r => r.Id.Name == "SourceNotReleased"), "The stop named the source that did not let go.");
    }

    [TestMethod]
    public async Task Registry_WithoutTheKit_TracksNothing()
    {
        var registry = new JobRegistry();
        var group = (JobGroup)registry.NewGroup(new HealthTree());
        var release = new TaskCompletionSource();
        var running = new TaskCompletionSource();
        group.Add(Job.OneShot("plain", (_, _) =>
        {
            running.TrySetResult();
            return release.Task;
        }));
        await group.StartAsync(CancellationToken.None);
        await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        JobContext context = group.FindActive("plain")!;

        Assert.IsNull(group.Tracker);
        Assert.IsNull(context.Work, "Without a kit, no job counts its user code.");
        release.SetResult();
        await group.StopAsync(CancellationToken.None);
    }

    /// <summary>A stream whose first pull never completes and ignores its token.</summary>
    private static async IAsyncEnumerable<int> NeverYields()
    {
        await new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously).Task;
        yield break;
    }

    private static Task Record(ConcurrentQueue<DateTimeOffset> runs, TimeProvider time)
    {
        runs.Enqueue(time.GetUtcNow());
        return Task.CompletedTask;
    }

    /// <summary>A stream whose item N is given only once gate N is opened: each pull waits, then yields.</summary>
    private sealed class SteppedGates(int count)
    {
        private readonly TaskCompletionSource[] _gates = [.. Enumerable.Range(0, count).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];

        public void Open(int index) => _gates[index].SetResult();

        public async IAsyncEnumerable<int> ReadAsync()
        {
            for (int i = 0; i < _gates.Length; i++)
            {
                await _gates[i].Task;
                yield return i;
            }
        }
    }
}
