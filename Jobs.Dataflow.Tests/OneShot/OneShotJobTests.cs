using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.OneShot;

[TestClass]
public sealed class OneShotJobTests
{
    [TestMethod]
    public async Task Run_FunctionReturns_ReportsRunningThenFinished()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        harness.Add(Job.OneShot("work", async (_, _) => await release.Task));

        await harness.StartAsync();
        await harness.Health.WaitForAsync("job-work", HealthLevel.Ok, "Running");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Message.StartsWith("Finished", StringComparison.Ordinal)));

        release.SetResult();
        HealthReport finished = await harness.Health.WaitForAsync("job-work", HealthLevel.Ok, "Finished (");

        StringAssert.EndsWith(finished.Message, ")");
        harness.Metrics.Verify(m => m.OneShotRunDuration("work", It.IsAny<TimeSpan>(), RunOutcome.Ok, null), Times.Once);
    }

    [TestMethod]
    public async Task Run_FunctionTakesTime_ReportsDurationFromTimeProvider()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        harness.Add(Job.OneShot("work", async (_, _) =>
        {
            started.SetResult();
            await release.Task;
        }));

        await harness.StartAsync();
        await started.OrTimeout();
        harness.Time.Advance(TimeSpan.FromMilliseconds(1500));
        release.SetResult();

        HealthReport finished = await harness.Health.WaitForAsync("job-work", HealthLevel.Ok, "Finished (");
        Assert.AreEqual("Finished (1.5s)", finished.Message);
        harness.Metrics.Verify(m => m.OneShotRunDuration("work", TimeSpan.FromMilliseconds(1500), RunOutcome.Ok, null), Times.Once);
    }

    [TestMethod]
    public async Task Run_GroupHealthIsAHealthTree_KeepsFinishedWithTheDurationUntilTheStop()
    {
        var time = new TestTimeProvider();
        var tree = new HealthTree("root", time);
        IJobGroup group = new JobRegistry(timeProvider: time).NewGroup(tree);
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        Job job = Job.OneShot("work", async (_, _) =>
        {
            started.SetResult();
            await release.Task;
        });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await started.OrTimeout();
        Assert.AreEqual("Running", tree.Snapshot().Find("job-work")!.Message);
        time.Advance(TimeSpan.FromMilliseconds(1500));
        release.SetResult();
        await job.Completion.OrTimeout();

        HealthStatus scope = tree.Snapshot().Find("job-work")!;
        Assert.AreEqual(HealthLevel.Ok, scope.Level);
        Assert.AreEqual("Finished (1.5s)", scope.Message);
        Assert.AreEqual(time.GetUtcNow(), scope.LastChanged);
        await group.StopAsync(CancellationToken.None).OrTimeout();
        Assert.IsNull(tree.Snapshot().Find("job-work"));
    }

    [TestMethod]
    public async Task Run_FunctionThrowsWithRetries_RunsOncePlusRetries()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        OneShotFunc fn = (_, _) =>
        {
            Interlocked.Increment(ref runs);
            throw new InvalidOperationException("boom");
        };
        harness.Add(Job.OneShot("flaky", fn, new OneShotOptions { Retries = 3 }));

        await harness.StartAsync();

        // The job ends on its own once its retries are used up: no stop cuts a fifth attempt short.
        await harness.WaitForEndAsync("flaky");
        Assert.AreEqual(4, runs);
        harness.Metrics.Verify(m => m.JobError("flaky", It.IsAny<InvalidOperationException>()), Times.Exactly(4));
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
    }

    [TestMethod]
    public async Task Run_FunctionThrows_LogsAttemptAndRetriesLeftAndDegrades()
    {
        await using var harness = new GroupHarness();
        var error = new InvalidOperationException("boom");
        harness.Add(Job.OneShot("flaky", (_, _) => throw error, new OneShotOptions { Retries = 2, Backoff = new ConstantBackoff(TimeSpan.FromHours(1)) }));

        await harness.StartAsync();

        LogEntry logged = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.OneShotFailed));
        Assert.AreEqual(LogLevel.Error, logged.Level);
        Assert.AreEqual("flaky", logged["JobName"]);
        Assert.AreEqual(1, logged["Attempt"]);
        Assert.AreEqual(2, logged["RetriesLeft"]);
        Assert.AreSame(error, logged.Exception);
        HealthReport degraded = await harness.Health.WaitForAsync("job-flaky", HealthLevel.Degraded);
        Assert.AreSame(error, degraded.Error);
        harness.Metrics.Verify(m => m.JobError("flaky", error), Times.Once);
    }

    [TestMethod]
    public async Task Run_BackoffBetweenAttempts_WaitsTheBackoffDelayBeforeRetrying()
    {
        await using var harness = new GroupHarness();
        var attempts = new SemaphoreSlim(0);
        var backoff = new Mock<IRetryBackoff>();
        backoff.Setup(b => b.GetDelay(1)).Returns(TimeSpan.FromSeconds(5));
        OneShotFunc fn = (_, _) =>
        {
            attempts.Release();
            throw new InvalidOperationException("boom");
        };
        harness.Add(Job.OneShot("flaky", fn, new OneShotOptions { Retries = 1, Backoff = backoff.Object }));

        await harness.StartAsync();
        await attempts.WaitOrTimeout();
        await harness.Time.WaitForTimerAsync();
        harness.Time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.AreEqual(0, attempts.CurrentCount, "The retry must not start before the delay has passed.");

        harness.Time.Advance(TimeSpan.FromTicks(1));

        await attempts.WaitOrTimeout();
        backoff.Verify(b => b.GetDelay(1), Times.Once);
    }

    [TestMethod]
    public async Task Run_RetriesForever_KeepsRetryingUntilItRecovers()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        OneShotFunc fn = (_, _) => Interlocked.Increment(ref runs) < 50
            ? throw new InvalidOperationException("not yet")
            : Task.CompletedTask;
        harness.Add(Job.OneShot("stubborn", fn, new OneShotOptions { Retries = -1 }));

        await harness.StartAsync();

        await harness.Health.WaitForAsync("job-stubborn", HealthLevel.Ok, "Finished");
        Assert.AreEqual(50, runs);
    }

    [TestMethod]
    public async Task Run_StopDuringBackoff_InterruptsTheWaitAndNeverRetries()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        OneShotFunc fn = (_, _) =>
        {
            Interlocked.Increment(ref runs);
            throw new InvalidOperationException("boom");
        };
        harness.Add(Job.OneShot("flaky", fn, new OneShotOptions { Retries = 5, Backoff = new ConstantBackoff(TimeSpan.FromHours(1)) }));
        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();

        await harness.StopAsync();

        Assert.AreEqual(1, runs);
        Assert.IsNull(harness.Health.Tree.Snapshot().Find("job-flaky"));
    }

    [TestMethod]
    public async Task Run_AttemptEndsByCancellation_IsNeitherRetriedNorAnError()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        var entered = new TaskCompletionSource();
        harness.Add(Job.OneShot(
            "waiter",
            async (_, token) =>
            {
                Interlocked.Increment(ref runs);
                entered.TrySetResult();
                await token.UntilCancelledAsync();
            },
            new OneShotOptions { Retries = 3, ShutdownOnError = true }));
        await harness.StartAsync();
        await entered.OrTimeout();

        await harness.StopAsync();

        Assert.AreEqual(1, runs);
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Warning));
    }

    [TestMethod]
    public async Task Run_OtherExceptionAfterCancellation_IsANormalEnd()
    {
        await using var harness = new GroupHarness();
        var entered = new TaskCompletionSource();
        harness.Add(Job.OneShot(
            "cleanup-fails",
            async (_, token) =>
            {
                entered.SetResult();
                try
                {
                    await token.UntilCancelledAsync();
                }
                finally
                {
                    throw new IOException("flush on shutdown failed");
                }
            },
            new OneShotOptions { Retries = 3 }));
        await harness.StartAsync();
        await entered.OrTimeout();

        await harness.StopAsync();

        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Information && e.Exception is not null));
    }

    [TestMethod]
    public async Task Run_ShutdownOnErrorAndRetriesExhausted_ReportsFailedThenShutsDownWithTheLastError()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        Task<ShutdownCall> shutdown = harness.RecordShutdown();
        OneShotFunc fn = (_, _) => throw new InvalidOperationException($"attempt {Interlocked.Increment(ref runs)}");
        harness.Add(Job.OneShot("doomed", fn, new OneShotOptions { Retries = 2, ShutdownOnError = true }));

        await harness.StartAsync();

        ShutdownCall call = await shutdown.OrTimeout();
        Assert.AreEqual("attempt 3", call.Error?.Message);
        HealthReport before = call.LastReport("job-doomed");
        Assert.AreEqual(HealthLevel.Failed, before.Level, "Failed is reported before the shutdown.");
        Assert.AreSame(call.Error, before.Error);
        await harness.WaitForEndAsync("doomed");
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Once);
    }

    [TestMethod]
    public async Task Run_LastAttemptFails_ReportsDegradedThenFailedAndKeepsTheScope()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        OneShotFunc fn = (_, _) => throw new InvalidOperationException($"attempt {Interlocked.Increment(ref runs)}");
        harness.Add(Job.OneShot("doomed", fn, new OneShotOptions { Retries = 1 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("doomed");

        string[] reports = [.. harness.Health.Reports.Where(r => r.Path == "job-doomed").Select(r => $"{r.Level} {r.Message}")];
        CollectionAssert.AreEqual(
            new[] { "Ok Running", "Degraded Failed on attempt 1: attempt 1", "Ok Running", "Degraded Failed on attempt 2: attempt 2", "Failed Gave up after 2 attempts: attempt 2" },
            reports);
        HealthStatus scope = harness.Health.Tree.Snapshot().Find("job-doomed")!;
        Assert.AreEqual(HealthLevel.Failed, scope.Level);
        Assert.AreEqual("attempt 2", scope.Error?.Message);
    }

    [TestMethod]
    public async Task Run_RetriesForeverWithoutBackoff_RetriesOnAFreshStack()
    {
        // A function that fails synchronously, retried at once and forever, must not keep its
        // thread in a loop: each retry starts from the thread pool, not inside the previous one.
        await using var harness = new GroupHarness();
        var stacks = new List<string>();
        var third = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        OneShotFunc fn = (_, _) =>
        {
            lock (stacks)
            {
                stacks.Add(new System.Diagnostics.StackTrace().ToString());
                if (stacks.Count == 3)
                {
                    third.SetResult();
                    return Task.CompletedTask;
                }
            }

            throw new InvalidOperationException("not yet");
        };
        harness.Add(Job.OneShot("spinner", fn, new OneShotOptions { Retries = -1 }));

        await harness.StartAsync();
        await third.OrTimeout();

        Assert.AreNotEqual(stacks[0], stacks[1], "The retry ran on the first attempt's stack: the loop never gave its thread back.");
    }

    [TestMethod]
    public async Task Run_ShutdownOnErrorButRecoversOnRetry_NeverShutsDown()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        OneShotFunc fn = (_, _) => Interlocked.Increment(ref runs) < 3
            ? throw new InvalidOperationException("transient")
            : Task.CompletedTask;
        harness.Add(Job.OneShot("recovers", fn, new OneShotOptions { Retries = 2, ShutdownOnError = true }));

        await harness.StartAsync();
        await harness.Health.WaitForAsync("job-recovers", HealthLevel.Ok, "Finished");

        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
    }

    [TestMethod]
    public async Task Run_FunctionReturnsNullTask_IsAFailedAttemptNotACrash()
    {
        await using var harness = new GroupHarness();
        harness.Add(Job.OneShot("null-task", (_, _) => null!));

        await harness.StartAsync();

        HealthReport degraded = await harness.Health.WaitForAsync("job-null-task", HealthLevel.Degraded);
        Assert.IsInstanceOfType<InvalidOperationException>(degraded.Error);
        Assert.AreEqual("The function of job null-task returned a null Task.", degraded.Error!.Message);
    }

    [TestMethod]
    public void OneShot_NullFunction_ThrowsNamingFn()
    {
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => Job.OneShot("job", null!));

        Assert.AreEqual("fn", error.ParamName);
    }
}
