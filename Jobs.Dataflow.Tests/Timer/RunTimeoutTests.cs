using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
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
}
