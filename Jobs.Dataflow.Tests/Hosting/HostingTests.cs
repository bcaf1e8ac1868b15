using Jobs.Dataflow.Hosting;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Hosting;

[TestClass]
public sealed class HostingTests
{
    [TestMethod]
    public void AddJobs_CalledTwice_RegistersEachServiceOnce()
    {
        var services = new ServiceCollection().AddLogging();

        services.AddJobs().AddJobs();

        foreach (Type type in new[] { typeof(IJobRegistry), typeof(IHealth), typeof(HealthTree), typeof(IShutdowner), typeof(IJobMetrics), typeof(TimeProvider) })
        {
            Assert.AreEqual(1, services.Count(d => d.ServiceType == type), type.Name);
        }
    }

    [TestMethod]
    public void AddJobs_CallerRegisteredServices_AreKept()
    {
        var shutdowner = Mock.Of<IShutdowner>();
        var metrics = Mock.Of<IJobMetrics>();
        var time = new TestTimeProvider();
        var services = new ServiceCollection().AddLogging()
            .AddSingleton(shutdowner)
            .AddSingleton(metrics)
            .AddSingleton<TimeProvider>(time);

        using ServiceProvider provider = services.AddJobs().BuildServiceProvider();

        Assert.AreSame(shutdowner, provider.GetRequiredService<IShutdowner>());
        Assert.AreSame(metrics, provider.GetRequiredService<IJobMetrics>());
        Assert.AreSame(time, provider.GetRequiredService<TimeProvider>());
        Assert.AreSame(provider.GetRequiredService<HealthTree>(), provider.GetRequiredService<IHealth>());
    }

    [TestMethod]
    public void AddJobs_PlainServiceCollection_RecordsMetricsThroughTheContainersMeterFactory()
    {
        // Outside a host nothing else registers the metrics services: AddJobs brings them.
        using ServiceProvider provider = new ServiceCollection().AddLogging().AddJobs().BuildServiceProvider();
        using var errors = new MetricCollector<long>(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), MeterJobMetrics.MeterName, "jobs.errors");

        provider.GetRequiredService<IJobMetrics>().JobError("load", new IOException("disk gone"));

        Assert.AreEqual(1L, errors.GetMeasurementSnapshot().Single().Value);
    }

    [TestMethod]
    public void AddJobs_NullServices_ThrowsNamingThem()
    {
        Assert.AreEqual("services", Assert.ThrowsExactly<ArgumentNullException>(() => JobsServiceCollectionExtensions.AddJobs(null!)).ParamName);
    }

    [TestMethod]
    public async Task Host_TwoGroups_RunsJobsReportsHealthAndMetricsAndEndsEveryJobOnStop()
    {
        var logs = new LogCapture();
        var ingestRunning = new TaskCompletionSource();
        var exportFailed = new TaskCompletionSource();
        var ended = new CountdownEvent(1);
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(logs);
        builder.Services.AddHealthChecks().AddJobsHealthCheck();
        builder.Services.AddJobGroup(
            "ingest",
            (group, _) => group.Add(Job.OneShot("reader", async (_, token) =>
            {
                ingestRunning.SetResult();
                try
                {
                    await token.UntilCancelledAsync();
                }
                finally
                {
                    ended.Signal();
                }
            })),
            new JobGroupOptions { Labels = new Dictionary<string, object?> { ["pipeline"] = "orders" } });

        // A job that keeps retrying stays degraded in the tree; one that gave up has ended and closed its scope.
        builder.Services.AddJobGroup("export", (group, _) => group.Add(Job.OneShot(
            "writer",
            (_, _) =>
            {
                exportFailed.TrySetResult();
                throw new IOException("disk full");
            },
            new OneShotOptions { Retries = -1, Backoff = new ConstantBackoff(TimeSpan.FromHours(1)) })));
        using IHost host = builder.Build();
        using var durations = new MetricCollector<double>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), MeterJobMetrics.MeterName, "jobs.oneshot.run.duration");

        await host.StartAsync().OrTimeout();
        await Task.WhenAll(ingestRunning.Task, exportFailed.Task).OrTimeout();
        await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.OneShotFailedRetryingForever) && (string?)e["JobName"] == "writer");

        Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.AreEqual(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, report.Status);
        Assert.AreEqual("Failed on attempt 1: disk full (IOException: disk full)", report.Entries["jobs"].Data["root/export/job-writer"]);
        Assert.IsNotNull(host.Services.GetRequiredService<HealthTree>().Snapshot().Find("ingest", "job-reader"));

        await durations.WaitForMeasurementsAsync(1, Waits.Timeout);
        var measurement = durations.GetMeasurementSnapshot().Single();
        Assert.AreEqual("writer", measurement.Tags["job.name"]);
        Assert.AreEqual("oneshot", measurement.Tags["job.kind"]);

        await host.StopAsync().OrTimeout();

        Assert.IsTrue(ended.Wait(0), "Every job must have ended when the host has stopped.");
        Assert.IsNull(host.Services.GetRequiredService<HealthTree>().Snapshot().Find("ingest", "job-reader"));
        Assert.IsNull(host.Services.GetRequiredService<HealthTree>().Snapshot().Find("export", "job-writer"));
    }

    [TestMethod]
    public async Task AddJobGroup_TwoGroups_StartInRegistrationOrderAndStopInReverse()
    {
        var order = new List<string>();
        var started = new CountdownEvent(2);
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        foreach (string name in new[] { "first", "second" })
        {
            builder.Services.AddJobGroup(name, (group, _) => group.Add(Job.OneShot(name, async (_, token) =>
            {
                started.Signal();
                await token.WhenCancelled();
                lock (order)
                {
                    order.Add(name);
                }
            })));
        }

        using IHost host = builder.Build();
        IJobGroup[] groups = [.. host.Services.GetServices<IHostedService>().OfType<IJobGroup>()];
        Assert.HasCount(2, groups);
        await host.StartAsync().OrTimeout();
        Assert.IsTrue(started.Wait(Waits.Timeout));
        await host.StopAsync().OrTimeout();

        CollectionAssert.AreEqual(new[] { "second", "first" }, order, "Each group waits for its jobs, and the host stops the groups in reverse.");
    }

    [TestMethod]
    [DoNotParallelize]
    public async Task Host_ShutdownOnErrorJobFails_StopsTheHostWithNonZeroExitCode()
    {
        var logs = new LogCapture();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(logs);
        builder.Services.AddJobGroup("critical", (group, _) => group.Add(Job.OneShot(
            "migrate",
            (_, _) => throw new InvalidOperationException("schema mismatch"),
            new OneShotOptions { ShutdownOnError = true })));
        using IHost host = builder.Build();
        try
        {
            await host.StartAsync().OrTimeout();

            await host.WaitForShutdownAsync().OrTimeout();

            Assert.AreEqual(HostShutdowner.ErrorExitCode, host.Services.GetRequiredService<HostShutdowner>().ExitCode);
            Assert.AreEqual(HostShutdowner.ErrorExitCode, Environment.ExitCode);
            LogEntry[] critical = [.. logs.Entries.Where(e => e.Level == LogLevel.Critical)];
            Assert.HasCount(1, critical);
            Assert.AreEqual("schema mismatch", critical[0].Exception?.Message);
        }
        finally
        {
            Environment.ExitCode = 0;
        }
    }

    [TestMethod]
    [DoNotParallelize]
    [DataRow(true, false, DisplayName = "a ShutdownOnError job gives up")]
    [DataRow(false, false, DisplayName = "a batch pipeline ends")]
    [DataRow(true, true, DisplayName = "a ShutdownOnError job gives up, with a registry of the caller's own")]
    public async Task Host_AJobAsksForShutdownWhileTheHostStarts_LaterGroupsStopUnstartedAndTheHostExitsWithItsCode(bool error, bool ownRegistry)
    {
        var logs = new LogCapture();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(logs);
        if (ownRegistry)
        {
            builder.Services.AddSingleton<IJobRegistry>(sp => new JobRegistry(sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<HostShutdowner>()));
        }

        builder.Services.AddJobGroup("first", (group, _) => group.Add(error
            ? Job.OneShot("migrate", (_, _) => throw new InvalidOperationException("schema mismatch"), new OneShotOptions { ShutdownOnError = true })
            : Job.Pipeline("import", Array.Empty<int>().ToAsyncEnumerable(), new PipelineOptions { ShutdownWhenComplete = true })
                .Sink("write", (_, _) => Task.CompletedTask)));

        // A service that is still starting when the shutdown comes: the host cancels the start of every service after it.
        builder.Services.AddHostedService<StartsUntilTheApplicationStops>();
        int laterRuns = 0;
        Job later = Job.OneShot("refresh", (_, _) => Task.FromResult(Interlocked.Increment(ref laterRuns)));
        builder.Services.AddJobGroup("second", (group, _) => group.Add(later));
        using IHost host = builder.Build();
        HostShutdowner shutdowner = host.Services.GetRequiredService<HostShutdowner>();
        try
        {
            await host.RunAsync().OrTimeout();

            Assert.AreEqual(error ? HostShutdowner.ErrorExitCode : 0, shutdowner.ExitCode);
            Assert.AreEqual(0, Volatile.Read(ref laterRuns), "A group whose start comes after the shutdown runs none of its jobs.");
            Assert.IsTrue(later.Completion.IsCompleted);
            LogEntry neverRan = logs.Entries.Single(e => e.EventId.Name == nameof(Log.JobsNeverRan));
            Assert.AreEqual("refresh", neverRan["JobNames"]);
            Assert.IsFalse(logs.Entries.Any(e => e.Level == LogLevel.Error && e.Category.StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal)), "The host started.");
        }
        finally
        {
            Environment.ExitCode = 0;
        }
    }

    [TestMethod]
    public async Task Host_AGroupTheCallerStartsWhileTheApplicationStops_RunsItsJobs()
    {
        // Only the groups the host starts skip their start once the application stops: a final
        // flush the caller's own code starts then runs.
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddJobs();
        using IHost host = builder.Build();
        await host.StartAsync().OrTimeout();
        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        IJobGroup group = host.Services.GetRequiredService<IJobRegistry>().NewGroup(new HealthTree());
        int runs = 0;
        Job flush = Job.OneShot("flush", (_, _) => Task.FromResult(Interlocked.Increment(ref runs)));
        group.Add(flush);

        await group.StartAsync(CancellationToken.None);
        await flush.Completion.OrTimeout();

        Assert.AreEqual(1, Volatile.Read(ref runs));
        await group.StopAsync(CancellationToken.None).OrTimeout();
        await host.StopAsync().OrTimeout();
    }

    [TestMethod]
    public async Task Host_DisposedWithoutBeingStopped_CancelsEveryJob()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Job job = Job.OneShot("poll", async (_, token) =>
        {
            running.SetResult();
            await token.WhenCancelled();
            cancelled.SetResult();
        });
        builder.Services.AddJobGroup("work", (group, _) => group.Add(job));
        IHost host = builder.Build();
        IJobGroup group;
        try
        {
            await host.StartAsync().OrTimeout();
            await running.Task.OrTimeout();
            group = host.Services.GetServices<IHostedService>().OfType<IJobGroup>().Single();
        }
        finally
        {
            host.Dispose();
        }

        await cancelled.Task.OrTimeout();
        await job.Completion.OrTimeout();
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => group.StartAsync(CancellationToken.None));
    }

    [TestMethod]
    public void Shutdown_WithoutError_StopsTheApplicationAndKeepsExitCodeZero()
    {
        var lifetime = new Mock<IHostApplicationLifetime>();
        var shutdowner = new HostShutdowner(lifetime.Object, new LogCapture().Factory.CreateLogger<HostShutdowner>());

        shutdowner.Shutdown();

        lifetime.Verify(l => l.StopApplication(), Times.Once);
        Assert.AreEqual(0, shutdowner.ExitCode);
    }

    [TestMethod]
    [DoNotParallelize]
    public void Shutdown_CalledAgainWithAnError_StopsOnceLogsTheFirstAndExitsNonZero()
    {
        // Jobs that give up one after another each call the shutdowner: the application is stopped
        // once, the first error is the one logged as critical, and any error makes the exit non-zero.
        var lifetime = new Mock<IHostApplicationLifetime>();
        var logs = new LogCapture();
        var shutdowner = new HostShutdowner(lifetime.Object, logs.Factory.CreateLogger<HostShutdowner>());
        try
        {
            shutdowner.Shutdown(new InvalidOperationException("first"));
            shutdowner.Shutdown(new InvalidOperationException("second"));

            lifetime.Verify(l => l.StopApplication(), Times.Once);
            Assert.AreEqual(HostShutdowner.ErrorExitCode, shutdowner.ExitCode);
            Assert.AreEqual(HostShutdowner.ErrorExitCode, Environment.ExitCode);
            LogEntry[] critical = [.. logs.Entries.Where(e => e.Level == LogLevel.Critical)];
            Assert.HasCount(1, critical);
            Assert.AreEqual("first", critical[0].Exception?.Message);
        }
        finally
        {
            Environment.ExitCode = 0;
        }
    }

    [TestMethod]
    [DoNotParallelize]
    public void Shutdown_CleanThenWithAnError_StopsOnceAndExitsNonZero()
    {
        var lifetime = new Mock<IHostApplicationLifetime>();
        var shutdowner = new HostShutdowner(lifetime.Object, new LogCapture().Factory.CreateLogger<HostShutdowner>());
        try
        {
            shutdowner.Shutdown();
            Assert.AreEqual(0, shutdowner.ExitCode);

            shutdowner.Shutdown(new InvalidOperationException("late"));

            lifetime.Verify(l => l.StopApplication(), Times.Once);
            Assert.AreEqual(HostShutdowner.ErrorExitCode, shutdowner.ExitCode, "An error after a clean request still fails the exit.");
            Assert.AreEqual(HostShutdowner.ErrorExitCode, Environment.ExitCode);
        }
        finally
        {
            Environment.ExitCode = 0;
        }
    }

    [TestMethod]
    public void HostShutdowner_NullArguments_ThrowNamingThem()
    {
        ILogger<HostShutdowner> logger = new LogCapture().Factory.CreateLogger<HostShutdowner>();

        Assert.AreEqual("lifetime", Assert.ThrowsExactly<ArgumentNullException>(() => new HostShutdowner(null!, logger)).ParamName);
        Assert.AreEqual("logger", Assert.ThrowsExactly<ArgumentNullException>(() => new HostShutdowner(Mock.Of<IHostApplicationLifetime>(), null!)).ParamName);
    }

    [TestMethod]
    public void AddJobGroup_BadArguments_ThrowNamingTheParameter()
    {
        var services = new ServiceCollection();

        Assert.AreEqual("name", Assert.ThrowsExactly<ArgumentException>(() => services.AddJobGroup(string.Empty, (_, _) => { })).ParamName);
        Assert.AreEqual("configure", Assert.ThrowsExactly<ArgumentNullException>(() => services.AddJobGroup("g", null!)).ParamName);
        Assert.AreEqual("services", Assert.ThrowsExactly<ArgumentNullException>(() => JobsServiceCollectionExtensions.AddJobGroup(null!, string.Empty, null!)).ParamName, "The arguments are checked in order.");
    }

    private sealed class StartsUntilTheApplicationStops(IHostApplicationLifetime lifetime) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using CancellationTokenRegistration registration = lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
            await stopping.Task.OrTimeout();
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
