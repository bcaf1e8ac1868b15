using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.OneShot;

[TestClass]
public sealed class AttemptTimeoutTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    [TestMethod]
    public async Task Run_AttemptTimeoutExpires_FailsWithTimeoutExceptionAndIsRetried()
    {
        await using var harness = new GroupHarness();
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int attempts = 0;
        OneShotFunc fn = async (_, token) =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                firstStarted.SetResult();
                await token.UntilCancelledAsync();
            }
        };
        harness.Add(Job.OneShot("slow", fn, new OneShotOptions { Retries = 1, AttemptTimeout = Limit }));
        await harness.StartAsync();
        await firstStarted.OrTimeout();

        harness.Time.Advance(Limit - TimeSpan.FromMilliseconds(1));
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));

        await harness.Health.WaitForAsync("job-slow", HealthLevel.Ok, "Finished (");
        Assert.AreEqual(2, attempts);
        HealthReport degraded = harness.Health.Reports.Single(r => r.Level == HealthLevel.Degraded);
        var timeout = Assert.IsInstanceOfType<TimeoutException>(degraded.Error);
        Assert.AreEqual("Failed on attempt 1: The attempt timed out after 5s.", degraded.Message);
        LogEntry logged = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.OneShotFailed));
        Assert.AreSame(timeout, logged.Exception);
        Assert.AreEqual(1, logged["Attempt"]);
        Assert.AreEqual(LogLevel.Error, logged.Level);
        harness.Metrics.Verify(m => m.JobError("slow", timeout), Times.Once);
        harness.Metrics.Verify(m => m.OneShotRunDuration("slow", Limit, RunOutcome.Error, timeout), Times.Once);
    }

    [TestMethod]
    public async Task Run_ACallbackOnTheAttemptsTokenThrowsWhenItTimesOut_IsLoggedAndTheClockGoesOn()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        OneShotFunc fn = async (_, token) =>
        {
            using CancellationTokenRegistration throwing = token.Register(() => throw new InvalidOperationException("callback"));
            started.SetResult();
            await token.UntilCancelledAsync();
        };
        var ticked = new SemaphoreSlim(0);
        harness.Add(
            Job.OneShot("guarded", fn, new OneShotOptions { AttemptTimeout = Limit }),
            Job.Timer("after", _ => Task.FromResult(ticked.Release()), TimeSpan.FromSeconds(10)));
        await harness.StartAsync();
        await started.OrTimeout();
        await harness.Waits.WaitForTimerArmedAsync("after");

        harness.Time.Advance(Limit);
        await harness.Health.WaitForAsync("job-guarded", HealthLevel.Failed);
        harness.Time.Advance(TimeSpan.FromSeconds(5));

        await ticked.WaitOrTimeout();
        LogEntry logged = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.RunTimeoutCallbackFailed));
        Assert.AreEqual("callback", Assert.IsInstanceOfType<AggregateException>(logged.Exception).InnerException!.Message);
        Assert.IsInstanceOfType<TimeoutException>(harness.Health.Reports.Last(r => r.Path == "job-guarded" && r.Error is not null).Error);
    }

    [TestMethod]
    public async Task Run_EveryAttemptTimesOut_GivesUpWithTheTimeout()
    {
        await using var harness = new GroupHarness();
        var started = new SemaphoreSlim(0);
        OneShotFunc fn = async (_, token) =>
        {
            started.Release();
            await token.UntilCancelledAsync();
        };
        harness.Add(Job.OneShot("stuck", fn, new OneShotOptions { Retries = 1, AttemptTimeout = Limit }));
        await harness.StartAsync();

        await started.WaitOrTimeout();
        harness.Time.Advance(Limit);
        await started.WaitOrTimeout();
        harness.Time.Advance(Limit);

        await harness.WaitForEndAsync("stuck");
        HealthReport failed = await harness.Health.WaitForAsync("job-stuck", HealthLevel.Failed);
        Assert.IsInstanceOfType<TimeoutException>(failed.Error);
        harness.Metrics.Verify(m => m.JobError("stuck", It.IsAny<TimeoutException>()), Times.Exactly(2));
    }

    [TestMethod]
    public async Task Run_StopDuringAttemptWithTimeout_IsACancellationNotATimeout()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int attempts = 0;
        bool sawCancellation = false;
        OneShotFunc fn = async (_, token) =>
        {
            Interlocked.Increment(ref attempts);
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
        harness.Add(Job.OneShot("long", fn, new OneShotOptions { Retries = 3, AttemptTimeout = TimeSpan.FromHours(1) }));
        await harness.StartAsync();
        await started.OrTimeout();

        await harness.StopAsync();

        Assert.IsTrue(sawCancellation, "The stop must cancel the attempt's token, which the timeout's token source now carries.");
        Assert.AreEqual(1, attempts);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Error));
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        harness.Metrics.Verify(m => m.OneShotRunDuration("long", It.IsAny<TimeSpan>(), RunOutcome.Cancelled, It.IsAny<Exception?>()), Times.Once);
    }

    [TestMethod]
    public void OneShotOptions_AttemptTimeoutNotPositive_ThrowsNamingAttemptTimeout()
    {
        foreach (TimeSpan bad in new[] { TimeSpan.Zero, TimeSpan.FromTicks(-1), Timeout.InfiniteTimeSpan, TimeSpan.FromDays(50) })
        {
            Assert.AreEqual("AttemptTimeout", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new OneShotOptions { AttemptTimeout = bad }).ParamName);
        }

        Assert.IsNull(new OneShotOptions().AttemptTimeout);
        Assert.AreEqual(Limit, new OneShotOptions { AttemptTimeout = Limit }.AttemptTimeout);
    }
}
