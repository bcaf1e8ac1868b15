using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Groups;

/// <summary>
/// docs/behaviour.md#rule-6 for the code around a job that is the user's too: metrics sinks, health scopes,
/// loggers, backoffs, shutdowners and cancellation callbacks. None of them may crash the process,
/// hang a job or a stop, or fail silently.
/// </summary>
[TestClass]
public sealed class FaultToleranceTests
{
    [TestMethod]
    public async Task Pipeline_QueueObservationThrowsWhenDisposed_CompletesReportsAndShutsDown()
    {
        // The stages end their observations as the job ends: one that throws must not cost the
        // job its last status, nor the application the shutdown it asked for.
        await using var harness = new GroupHarness();
        var observation = new Mock<IDisposable>();
        observation.Setup(o => o.Dispose()).Throws(new InvalidOperationException("gauge gone"));
        harness.Metrics.Setup(m => m.ObservePipelineStageQueue(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<Func<long>>())).Returns(observation.Object);
        Task<ShutdownCall> shutdown = harness.RecordShutdown();
        harness.Add(Job.Pipeline("p", Enumerable.Range(0, 10).ToAsyncEnumerable(), new PipelineOptions { ShutdownWhenComplete = true })
            .Transform("same", x => x)
            .Sink("drop", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        Assert.IsNull((await shutdown.OrTimeout()).Error);
        observation.Verify(o => o.Dispose(), Times.Exactly(2));
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [10]");
        Assert.AreEqual(1, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.MetricsFailed)));
        Assert.AreEqual(1, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.MetricsFailedAgain)));
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.JobCrashed)));
    }

    [TestMethod]
    public async Task Observer_MetricsSinkThrows_HandlesEveryItemLogsAndEnds()
    {
        await using var harness = new GroupHarness();
        harness.Metrics.Setup(m => m.ObserverRunDuration(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<RunOutcome>(), It.IsAny<Exception?>())).Throws(new InvalidOperationException("sink down"));
        var source = new BufferBlock<int>();
        for (int i = 0; i < 100; i++)
        {
            source.Post(i);
        }

        source.Complete();
        int handled = 0;
        ObserverFunc<int> fn = (_, _) =>
        {
            Interlocked.Increment(ref handled);
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("obs", fn, source));

        await harness.StartAsync();
        await harness.WaitForEndAsync("obs");

        Assert.AreEqual(100, handled);
        LogEntry[] metricsFailed = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.MetricsFailed))];
        Assert.HasCount(1, metricsFailed, "The first failure of the sink is an error; later ones are debug entries.");
        Assert.AreEqual(LogLevel.Error, metricsFailed[0].Level);
        Assert.AreEqual("sink down", metricsFailed[0].Exception?.Message);
        Assert.AreEqual(99, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.MetricsFailedAgain) && e.Level == LogLevel.Debug));
        Assert.AreEqual("Completed [100]", harness.Health.Tree.Snapshot().Find("observer-job-obs")?.Message);
    }

    [TestMethod]
    public async Task Stop_LoggingProviderThrows_JobsStillEndAndStopReturns()
    {
        var registry = new JobRegistry(new ThrowingLoggerFactory());
        IJobGroup group = registry.NewGroup(new HealthTree());
        var entered = new TaskCompletionSource();
        var ended = new TaskCompletionSource();
        group.Add(Job.OneShot("logged", async (_, token) =>
        {
            entered.SetResult();
            try
            {
                await token.UntilCancelledAsync();
            }
            finally
            {
                ended.SetResult();
            }
        }));

        await group.StartAsync(CancellationToken.None);
        await entered.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();

        Assert.IsTrue(ended.Task.IsCompleted);
    }

    [TestMethod]
    public async Task OneShot_BackoffBeyondTheTimerLimit_WaitsTheLongestDelayAndRetries()
    {
        await using var harness = new GroupHarness();
        var attempts = new SemaphoreSlim(0);
        OneShotFunc fn = (_, _) =>
        {
            attempts.Release();
            throw new IOException("down");
        };
        var backoff = new ExponentialBackoff(TimeSpan.FromDays(30), TimeSpan.MaxValue);
        harness.Add(Job.OneShot("patient", fn, new OneShotOptions { Retries = -1, Backoff = backoff }));

        await harness.StartAsync();
        await attempts.WaitOrTimeout();
        await harness.Time.WaitForTimerAsync();
        harness.Time.Advance(TimeSpan.FromDays(30));
        await attempts.WaitOrTimeout();
        await harness.Time.WaitForTimerAsync();
        harness.Time.Advance(TimeSpan.FromMilliseconds(uint.MaxValue - 1));

        await attempts.WaitOrTimeout();
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.JobCrashed)), "The job must not crash on its third wait of 60 days.");
    }

    [TestMethod]
    public async Task OneShot_BackoffThrows_GivesUpWithAnErrorAndShutsDown()
    {
        await using var harness = new GroupHarness();
        var backoff = new Mock<IRetryBackoff>();
        backoff.Setup(b => b.GetDelay(It.IsAny<int>())).Throws(new InvalidOperationException("bad backoff"));
        int runs = 0;
        OneShotFunc fn = (_, _) =>
        {
            Interlocked.Increment(ref runs);
            throw new IOException("down");
        };
        harness.Add(Job.OneShot("job", fn, new OneShotOptions { Retries = -1, Backoff = backoff.Object, ShutdownOnError = true }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("job");

        Assert.AreEqual(1, runs);
        HealthStatus scope = harness.Health.Tree.Snapshot().Find("job-job")!;
        Assert.AreEqual(HealthLevel.Failed, scope.Level);
        Assert.AreEqual("bad backoff", scope.Error?.Message);
        LogEntry gaveUp = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.OneShotBackoffFailed));
        Assert.AreEqual("bad backoff", gaveUp.Exception?.Message);
        harness.Shutdowner.Verify(s => s.Shutdown(It.Is<Exception?>(e => e!.Message == "bad backoff")), Times.Once);
    }

    [TestMethod]
    public async Task ShutdownOnError_NoShutdownerConfigured_LogsTheRequestWithTheJobsName()
    {
        var logs = new LogCapture();
        var registry = new JobRegistry(logs.Factory);
        IJobGroup group = registry.NewGroup(new HealthTree());
        group.Add(Job.OneShot("doomed", (_, _) => throw new IOException("down"), new OneShotOptions { ShutdownOnError = true }));

        await group.StartAsync(CancellationToken.None);

        LogEntry entry = await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.NoShutdowner));
        Assert.AreEqual(LogLevel.Error, entry.Level);
        Assert.AreEqual("doomed", entry["JobName"]);
        Assert.AreEqual("down", entry.Exception?.Message);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task ShutdownOnError_ShutdownerThrows_IsLogged()
    {
        await using var harness = new GroupHarness();
        harness.Shutdowner.Setup(s => s.Shutdown(It.IsAny<Exception?>())).Throws(new InvalidOperationException("cannot stop"));
        harness.Add(Job.OneShot("doomed", (_, _) => throw new IOException("down"), new OneShotOptions { ShutdownOnError = true }));

        await harness.StartAsync();

        LogEntry entry = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ShutdownFailed));
        Assert.AreEqual("cannot stop", entry.Exception?.Message);
    }

    [TestMethod]
    public async Task StopAsync_AJobsCancellationCallbackThrows_StopsEveryJobAndLogsIt()
    {
        await using var harness = new GroupHarness();
        var entered = new CountdownEvent(2);
        var othersCancelled = new TaskCompletionSource();
        harness.Add(
            Job.OneShot("throwing", async (_, token) =>
            {
                token.Register(() => throw new InvalidOperationException("callback fails"));
                entered.Signal();
                await token.UntilCancelledAsync();
            }),
            Job.OneShot("other", async (_, token) =>
            {
                entered.Signal();
                await token.WhenCancelled();
                othersCancelled.SetResult();
            }));
        await harness.StartAsync();
        Assert.IsTrue(entered.Wait(Waits.Timeout));

        await harness.StopAsync();

        await othersCancelled.OrTimeout();
        LogEntry failed = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.CancellationCallbackFailed));
        Assert.AreEqual("callback fails", failed.Exception?.InnerException?.Message ?? failed.Exception?.Message);
        await Task.WhenAll(harness.WaitForEndAsync("throwing"), harness.WaitForEndAsync("other"));
    }

    [TestMethod]
    public async Task StopAsync_TokenAlreadyCancelledAndADeadlineCallbackThrows_StillCancelsEveryJob()
    {
        await using var harness = new GroupHarness();
        var handling = new TaskCompletionSource();
        var oneShotCancelled = new TaskCompletionSource();
        var oneShotEntered = new TaskCompletionSource();
        var source = new BufferBlock<int>();
        source.Post(1);
        ObserverFunc<int> drain = async (_, token) =>
        {
            token.Register(() => throw new InvalidOperationException("callback fails"));
            handling.SetResult();
            await token.UntilCancelledAsync();
        };
        harness.Add(
            Job.Observer("draining", drain, source, new ObserverOptions { DrainOnStop = true }),
            Job.OneShot("waiting", async (_, token) =>
            {
                oneShotEntered.SetResult();
                await token.WhenCancelled();
                oneShotCancelled.SetResult();
            }));
        await harness.StartAsync();
        await Task.WhenAll(handling.Task, oneShotEntered.Task).OrTimeout();
        using var expired = new CancellationTokenSource();
        await expired.CancelAsync();

        await harness.Group.StopAsync(expired.Token).OrTimeout();

        await oneShotCancelled.OrTimeout();
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.CancellationCallbackFailed));
    }

    [TestMethod]
    public async Task Observer_UnsubscribeThrows_IsAWarningNotASourceFault()
    {
        await using var harness = new GroupHarness();
        var observable = new Mock<IObservable<int>>();
        var subscription = new Mock<IDisposable>();
        subscription.Setup(s => s.Dispose()).Throws(new InvalidOperationException("cannot unsubscribe"));
        observable.Setup(o => o.Subscribe(It.IsAny<IObserver<int>>()))
            .Callback<IObserver<int>>(observer =>
            {
                observer.OnNext(1);
                observer.OnCompleted();
            })
            .Returns(subscription.Object);
        harness.Add(Job.Observer<int>("obs", (_, _) => Task.CompletedTask, observable.Object));

        await harness.StartAsync();
        await harness.WaitForEndAsync("obs");

        LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.SourceDetachFailed));
        Assert.AreEqual(LogLevel.Warning, warning.Level);
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
    }

    [TestMethod]
    public async Task Launch_NewScopeThrows_TheJobStillRunsAndTheFailureIsLogged()
    {
        var logs = new LogCapture();
        var health = new Mock<IHealth>();
        health.Setup(h => h.NewScope(It.IsAny<string>())).Throws(new InvalidOperationException("no scopes today"));
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(health.Object);
        var ran = new TaskCompletionSource();
        Job job = Job.OneShot("runs-anyway", (_, _) =>
        {
            ran.SetResult();
            return Task.CompletedTask;
        });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);

        await ran.OrTimeout();
        await job.Completion.OrTimeout();
        LogEntry error = await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.HealthReportFailed));
        Assert.AreEqual("runs-anyway", error["JobName"]);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Scoped_GroupScopeThrowsInNewScope_JobsStillRunAndTheFailureIsLogged()
    {
        var logs = new LogCapture();
        var health = new Mock<IHealth>();
        health.Setup(h => h.NewScope("ingest")).Throws(new InvalidOperationException("no scopes today"));
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(health.Object);
        Job job = Job.OneShot("reader", (_, _) => Task.CompletedTask);

        group.Scoped("ingest").Add(job);
        await group.StartAsync(CancellationToken.None);

        await job.Completion.OrTimeout();
        LogEntry error = await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ScopeCreateFailed));
        Assert.AreEqual("ingest", error["ScopeName"]);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task OneShot_HealthScopeThrowsOnEveryCall_RetriesAndShutsDownAsConfigured()
    {
        var logs = new LogCapture();
        var shutdowner = new Mock<IShutdowner>();
        IJobGroup group = new JobRegistry(logs.Factory, shutdowner.Object).NewGroup(new ThrowingHealth());
        int runs = 0;
        Job job = Job.OneShot(
            "unlucky",
            (health, _) =>
            {
                Interlocked.Increment(ref runs);
                health.Ok("the job's own report, also guarded");
                throw new IOException("down");
            },
            new OneShotOptions { Retries = 2, ShutdownOnError = true });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();

        Assert.AreEqual(3, runs);
        shutdowner.Verify(s => s.Shutdown(It.Is<Exception?>(e => e is IOException)), Times.Once);
        Assert.AreEqual(1, logs.Entries.Count(e => e.EventId.Name == nameof(Log.HealthReportFailed) && e.Level == LogLevel.Error));
        Assert.IsTrue(logs.Entries.Any(e => e.EventId.Name == nameof(Log.HealthReportFailedAgain) && e.Level == LogLevel.Debug));
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Stop_ClosingTheKeptScopeOfAJobWhoseScopeFailedBefore_LogsAtDebugNotASecondError()
    {
        var logs = new LogCapture();
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(new ThrowingHealth());
        Job job = Job.OneShot("done", (_, _) => Task.CompletedTask);
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();

        // The job kept its scope after it ended by itself; the stop closed it, and that threw too.
        Assert.AreEqual(1, logs.Entries.Count(e => e.EventId.Name == nameof(Log.HealthReportFailed) && e.Level == LogLevel.Error));
        Assert.IsTrue(logs.Entries.Any(e => e.EventId.Name == nameof(Log.HealthReportFailedAgain) && e.Exception?.Message == "health down"));
    }

    [TestMethod]
    public async Task Stop_ClosingTheKeptScopeThrowsFirst_LogsItAsAnErrorNamingTheJob()
    {
        var logs = new LogCapture();
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(new CloseThrowingHealth());
        Job job = Job.OneShot("done", (_, _) => Task.CompletedTask);
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();

        LogEntry failed = logs.Entries.Single(e => e.EventId.Name == nameof(Log.HealthReportFailed));
        Assert.AreEqual(LogLevel.Error, failed.Level);
        Assert.AreEqual("done", failed["JobName"]);
        Assert.AreEqual("close down", failed.Exception?.Message);
    }

    [TestMethod]
    public async Task OneShot_ClosingASubScopeThrows_LogsItAgainstTheJobAndTheFunctionGoesOn()
    {
        var logs = new LogCapture();
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(new CloseThrowingHealth());
        Exception? seen = null;
        Job job = Job.OneShot("closer", (health, _) =>
        {
            try
            {
                health.NewScope("sub").Close();
            }
            catch (Exception ex)
            {
                seen = ex;
            }

            return Task.CompletedTask;
        });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();

        Assert.IsNull(seen, "A failing scope is the library's to log, not the function's to handle.");
        LogEntry failed = logs.Entries.Single(e => e.EventId.Name == nameof(Log.HealthReportFailed));
        Assert.AreEqual("closer", failed["JobName"]);
        Assert.AreEqual("close down", failed.Exception?.Message);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task OneShot_MetricsSinkThrows_RetriesAndShutsDownAsConfigured()
    {
        await using var harness = new GroupHarness();
        harness.Metrics.Setup(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>())).Throws(new InvalidOperationException("sink down"));
        harness.Metrics.Setup(m => m.OneShotRunDuration(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<RunOutcome>(), It.IsAny<Exception?>())).Throws(new InvalidOperationException("sink down"));
        int runs = 0;
        OneShotFunc fn = (_, _) =>
        {
            Interlocked.Increment(ref runs);
            throw new IOException("down");
        };
        harness.Add(Job.OneShot("counted", fn, new OneShotOptions { Retries = 2, ShutdownOnError = true }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("counted");

        Assert.AreEqual(3, runs);
        harness.Shutdowner.Verify(s => s.Shutdown(It.Is<Exception?>(e => e is IOException)), Times.Once);
        Assert.AreEqual(HealthLevel.Failed, harness.Health.Tree.Snapshot().Find("job-counted")!.Level);
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.MetricsFailed) && e.Level == LogLevel.Error);
    }

    [TestMethod]
    public async Task Timer_HealthAndMetricsThrow_KeepsRunningOnEveryTick()
    {
        var logs = new LogCapture();
        var time = new TestTimeProvider();
        var metrics = new Mock<IJobMetrics>();
        metrics.Setup(m => m.TimerRunDuration(It.IsAny<string>(), It.IsAny<TimeSpan>(), It.IsAny<RunOutcome>(), It.IsAny<Exception?>())).Throws(new InvalidOperationException("sink down"));
        IJobGroup group = new JobRegistry(logs.Factory, timeProvider: time, metrics: metrics.Object).NewGroup(new ThrowingHealth());
        var ticks = new SemaphoreSlim(0);
        group.Add(Job.Timer(
            "ticker",
            _ =>
            {
                ticks.Release();
                return Task.CompletedTask;
            },
            TimeSpan.FromSeconds(1)));

        await group.StartAsync(CancellationToken.None);
        await time.WaitForTimerAsync();
        for (int i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await ticks.WaitOrTimeout();
        }

        Assert.IsFalse(logs.Entries.Any(e => e.EventId.Name is nameof(Log.TimerRunCrashed) or nameof(Log.JobCrashed)));
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Observer_HealthScopeThrows_HandlesEveryItemAndCompletes()
    {
        var logs = new LogCapture();
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(new ThrowingHealth());
        var source = new BufferBlock<int>();
        for (int i = 0; i < 50; i++)
        {
            source.Post(i);
        }

        source.Complete();
        int handled = 0;
        ObserverFunc<int> fn = (item, _) =>
        {
            Interlocked.Increment(ref handled);
            return item == 7 ? Task.FromException(new FormatException("bad")) : Task.CompletedTask;
        };
        Job job = Job.Observer("obs", fn, source);
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();

        Assert.AreEqual(50, handled);
        LogEntry completed = await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverSourceCompleted));
        Assert.AreEqual(49L, completed["Count"]);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    /// <summary>A health tree whose every scope throws on every call but NewScope.</summary>
    private sealed class ThrowingHealth : IHealth
    {
        public void Ok(string status) => throw new InvalidOperationException("health down");

        public void Stopped(string reason) => throw new InvalidOperationException("health down");

        public void Degraded(string reason, Exception? error) => throw new InvalidOperationException("health down");

        public IHealth NewScope(string name) => new ThrowingHealth();

        public void Close() => throw new InvalidOperationException("health down");
    }

    /// <summary>A health tree whose scopes take every report but throw when closed.</summary>
    private sealed class CloseThrowingHealth : IHealth
    {
        public void Ok(string status)
        {
        }

        public void Stopped(string reason)
        {
        }

        public void Degraded(string reason, Exception? error)
        {
        }

        public IHealth NewScope(string name) => new CloseThrowingHealth();

        public void Close() => throw new InvalidOperationException("close down");
    }

    private sealed class ThrowingLoggerFactory : ILoggerFactory
    {
        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => new ThrowingLogger();

        public void Dispose()
        {
        }
    }

    private sealed class ThrowingLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => throw new InvalidOperationException("scope broke");

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("logger broke");
    }
}
