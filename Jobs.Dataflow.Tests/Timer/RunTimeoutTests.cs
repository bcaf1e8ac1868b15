using System.Runtime.CompilerServices;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace Jobs.Dataflow.Tests.Timer;

[TestClass]
public sealed class RunTimeoutTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(3);

    [TestMethod]
    public async Task Run_RunTimeoutExpires_FailsWithTimeoutExceptionAndTheTimerGoesOn()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        TimerFunc fn = async token =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                started.SetResult();
                await token.UntilCancelledAsync();
            }
        };
        await harness.StartTimerAsync("slow", fn, Interval, new TimerOptions { RunTimeout = Limit });

        harness.Time.Advance(Interval);
        await started.OrTimeout();
        harness.Time.Advance(Limit - TimeSpan.FromMilliseconds(1));
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));

        HealthReport degraded = await harness.Health.WaitForAsync("timer-job-slow", HealthLevel.Degraded);
        LogEntry logged = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerFailed));
        var timeout = Assert.IsInstanceOfType<TimeoutException>(degraded.Error);
        Assert.IsInstanceOfType<OperationCanceledException>(timeout.InnerException);
        Assert.AreEqual("Run failed: The run timed out after 3s.", degraded.Message);
        Assert.AreSame(timeout, logged.Exception);
        Assert.AreEqual(LogLevel.Error, logged.Level);
        harness.Metrics.Verify(m => m.JobError("slow", timeout), Times.Once);
        harness.Metrics.Verify(m => m.TimerRunDuration("slow", Limit, RunOutcome.Error, timeout), Times.Once);

        // The next run comes one interval after the start of the one that timed out, and succeeds.
        harness.Time.Advance(Interval - Limit);
        await harness.Health.WaitForAsync("timer-job-slow", HealthLevel.Ok, "OK (");
        Assert.AreEqual(2, calls);
    }

    [TestMethod]
    public async Task Run_FunctionIgnoresTheTimeoutAndReturnsLater_StillFailsWithTimeoutException()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokenCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TimerFunc fn = async token =>
        {
            token.Register(tokenCancelled.SetResult);
            started.SetResult();
            await release.Task;
        };
        await harness.StartTimerAsync("stubborn", fn, Interval, new TimerOptions { RunTimeout = Limit });
        harness.Time.Advance(Interval);
        await started.OrTimeout();

        harness.Time.Advance(Limit);
        await tokenCancelled.OrTimeout();
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded), "The run is reported when it ends, not before.");
        LogEntry warned = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.RunTimedOut));
        Assert.AreEqual(LogLevel.Warning, warned.Level, "The log says at once that the run timed out, while the function still runs.");
        release.SetResult();

        HealthReport degraded = await harness.Health.WaitForAsync("timer-job-stubborn", HealthLevel.Degraded);
        var timeout = Assert.IsInstanceOfType<TimeoutException>(degraded.Error);
        Assert.IsNull(timeout.InnerException);
    }

    [TestMethod]
    public async Task StopAsync_DuringRunWithTimeout_IsACancellationNotATimeout()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool sawCancellation = false;
        TimerFunc fn = async token =>
        {
            started.SetResult();
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
        await harness.StartTimerAsync("long", fn, Interval, new TimerOptions { RunTimeout = TimeSpan.FromHours(1) });
        harness.Time.Advance(Interval);
        await started.OrTimeout();

        await harness.StopAsync();

        Assert.IsTrue(sawCancellation, "The stop must cancel the run's token, which the timeout's token source now carries.");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Error));
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        harness.Metrics.Verify(m => m.TimerRunDuration("long", It.IsAny<TimeSpan>(), RunOutcome.Cancelled, It.IsAny<Exception?>()), Times.Once);
    }

    [TestMethod]
    public async Task StopAsync_RunIgnoresItsTokenPastItsTimeout_NothingTimesOut()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TimerFunc fn = async token =>
        {
            token.Register(cancelled.SetResult);
            started.SetResult();
            await release.Task;
        };
        await harness.StartTimerAsync("stubborn", fn, Interval, new TimerOptions { RunTimeout = Limit });
        harness.Time.Advance(Interval);
        await started.OrTimeout();
        Task stopping = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();

        // The run's timeout falls due while the stop waits for the run.
        harness.Time.Advance(Limit);
        release.SetResult();
        await stopping.OrTimeout();

        Assert.IsFalse(
            harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.RunTimedOut)),
            "The stop cancelled the run: the log does not say it timed out, however long it took to end.");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
    }

    [TestMethod]
    public async Task Run_EndsBeforeItsTimeout_NothingTimesOutLater()
    {
        await using var harness = new GroupHarness();
        int calls = 0;
        await harness.StartTimerAsync("quick", _ => Task.FromResult(Interlocked.Increment(ref calls)), Interval, new TimerOptions { RunTimeout = Limit });
        harness.Time.Advance(Interval);
        await harness.Health.WaitForAsync("timer-job-quick", HealthLevel.Ok, "OK (");

        harness.Time.Advance(Limit);

        Assert.IsFalse(
            harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.RunTimedOut)),
            "A run that ended in time leaves no timeout behind to fire later.");
        Assert.AreEqual(1, calls);
    }

    [TestMethod]
    public void Dispose_TheGroupRunsOn_NeitherTheClockNorTheGroupsTokenKeepsTheTimeout()
    {
        using var group = new CancellationTokenSource();
        var clock = new TestClock();

        WeakReference timeout = StartAndDispose(clock, group.Token);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // A group lives as long as the application, and a timer job with a timeout makes one per run.
        Assert.AreEqual(0, clock.ArmedTimers, "The run's timer is gone from the clock.");
        Assert.IsFalse(timeout.IsAlive, "Nothing the group keeps refers to a run's timeout once the run is over.");
        Assert.IsFalse(group.IsCancellationRequested);
    }

    [TestMethod]
    public async Task Run_CronWithRunTimeout_TimesOutAndRunsAtTheNextOccurrence()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        TimerFunc fn = async token =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                started.SetResult();
                await token.UntilCancelledAsync();
            }
        };
        await harness.StartTimerAsync(Job.Cron("slow", fn, "* * * * *", options: new TimerOptions { RunTimeout = Limit }));
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        await started.OrTimeout();

        harness.Time.Advance(Limit);
        HealthReport degraded = await harness.Health.WaitForAsync("timer-job-slow", HealthLevel.Degraded);
        Assert.IsInstanceOfType<TimeoutException>(degraded.Error);
        harness.Time.Advance(TimeSpan.FromMinutes(1) - Limit);
        await harness.Health.WaitForAsync("timer-job-slow", HealthLevel.Ok, "OK (");
        Assert.AreEqual(2, calls);
    }

    [TestMethod]
    public void TimerOptions_RunTimeoutNotPositive_ThrowsNamingRunTimeout()
    {
        foreach (TimeSpan bad in new[] { TimeSpan.Zero, TimeSpan.FromTicks(-1), Timeout.InfiniteTimeSpan, TimeSpan.FromDays(50) })
        {
            Assert.AreEqual("RunTimeout", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TimerOptions { RunTimeout = bad }).ParamName);
        }

        Assert.IsNull(new TimerOptions { RunTimeout = null }.RunTimeout);
        Assert.AreEqual(Limit, new TimerOptions { RunTimeout = Limit }.RunTimeout);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference StartAndDispose(TimeProvider clock, CancellationToken stop)
    {
        var timeout = new RunTimeout(Limit, clock, stop, NullLogger.Instance, "job");
        timeout.Dispose();
        return new WeakReference(timeout);
    }
}
