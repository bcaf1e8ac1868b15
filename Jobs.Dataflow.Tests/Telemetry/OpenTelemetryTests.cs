using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Jobs.Dataflow.Tests.Telemetry;

/// <summary>
/// What a user's OpenTelemetry collector receives from the library with the SDK's default settings
/// and nothing configured but the meter and the source: names, units, bucket bounds, tags, spans and links.
/// </summary>
/// <remarks>
/// Not run in parallel with other tests: a provider listens to every meter named
/// <c>Jobs.Dataflow</c>, also the meters of tests running beside it, which they dispose at any time.
/// In parallel, <c>Metrics_RunsInFlight_CountsARunWhileItRunsAndNotAfter</c> lost its point after the
/// run in about 2 of 5 full runs (most likely the SDK's stream for the instrument belonged to another
/// test's meter, disposed between the two flushes); run alone, it never did.
/// </remarks>
[TestClass]
[DoNotParallelize]
public sealed class OpenTelemetryTests
{
    private static readonly string Version =
        typeof(Job).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

    private ServiceProvider _services = null!;
    private IMeterFactory _meterFactory = null!;

    [TestInitialize]
    public void Initialize()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _meterFactory = _services.GetRequiredService<IMeterFactory>();
    }

    [TestCleanup]
    public void Cleanup() => _services.Dispose();

    [TestMethod]
    public async Task Metrics_OneShotRunOfASecondAndAHalf_ArrivesInTheBucketUpToTwoAndAHalfSecondsWithItsTags()
    {
        string name = "otel-" + Guid.NewGuid().ToString("N");
        var exported = new List<Metric>();
        using MeterProvider provider = ExportMetricsTo(exported);
        var time = new TestTimeProvider();
        using var metrics = new MeterJobMetrics(_meterFactory);
        var registry = new JobRegistry(timeProvider: time, metrics: metrics);
        IJobGroup group = registry.NewGroup(new HealthTree(), new JobGroupOptions { Labels = new Dictionary<string, object?> { ["team"] = "data" } });
        Job job = Job.OneShot(name, (_, token) => Task.Delay(TimeSpan.FromSeconds(1.5), time, token));
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await time.WaitForTimerAsync();
        time.Advance(TimeSpan.FromSeconds(1.5));
        await job.Completion.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();
        provider.ForceFlush();

        (Metric duration, MetricPoint point) = Find(exported, "jobs.oneshot.run.duration", name);
        Assert.AreEqual("s", duration.Unit);
        Assert.AreEqual(Version, duration.MeterVersion);
        Assert.AreEqual("oneshot", Tag(point, "job.kind"));
        Assert.AreEqual("data", Tag(point, "team"));
        Assert.AreEqual(1L, point.GetHistogramCount());
        Assert.AreEqual(1.5, point.GetHistogramSum(), 1e-9);

        // The advised bounds, in seconds; the default ones (0, 5, 10, ... for milliseconds) would put
        // every duration under five seconds in one bucket.
        (double Bound, long Count)[] buckets = Buckets(point);
        CollectionAssert.AreEqual(
            new[] { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, double.PositiveInfinity },
            buckets.Select(b => b.Bound).ToArray());
        Assert.AreEqual(2.5, buckets.Single(b => b.Count == 1).Bound);
    }

    [TestMethod]
    [DataRow("jobs.oneshot.run.duration")]
    [DataRow("jobs.timer.run.duration")]
    [DataRow("jobs.observer.item.duration")]
    [DataRow("jobs.timer.trigger.latency")]
    [DataRow("jobs.pipeline.stage.duration")]
    public void Metrics_EveryDuration_HasBoundsFromAMillisecondToTenMinutes(string instrument)
    {
        var exported = new List<Metric>();
        using MeterProvider provider = ExportMetricsTo(exported);
        using var metrics = new MeterJobMetrics(_meterFactory);
        string name = "bounds-" + Guid.NewGuid().ToString("N");
        TimeSpan second = TimeSpan.FromSeconds(1);
        metrics.OneShotRunDuration(name, second);
        metrics.TimerRunDuration(name, second);
        metrics.ObserverRunDuration(name, second);
        metrics.TimerTriggerStats(name, second, 3);
        metrics.PipelineStageDuration(name, "stage", second);
        provider.ForceFlush();

        (_, MetricPoint point) = Find(exported, instrument, name);
        (double Bound, long Count)[] buckets = Buckets(point);
        Assert.AreEqual(0.001, buckets[0].Bound);
        Assert.AreEqual(600, buckets[^2].Bound);
        Assert.AreEqual(1, buckets.Single(b => b.Count == 1).Bound, "A one-second duration falls in the bucket up to one second.");
    }

    [TestMethod]
    public async Task Traces_TriggerFiredInsideAnActivity_TheRunsSpanLinksToIt()
    {
        string name = "linked-" + Guid.NewGuid().ToString("N");
        var spans = new List<Activity>();
        using var caller = new ActivitySource("caller-" + name);
        using TracerProvider provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(JobsActivitySource.Name, caller.Name)
            .AddInMemoryExporter(spans)
            .Build();
        await using var harness = new GroupHarness();
        var trigger = new Trigger(timeProvider: harness.Time);
        var ran = new SemaphoreSlim(0);
        harness.Add(Job.Timer(name, _ => Task.FromResult(ran.Release()), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();

        ActivityContext fired;
        using (Activity request = caller.StartActivity("handle request")!)
        {
            fired = request.Context;
            trigger.Fire();
        }

        await ran.WaitOrTimeout();
        await harness.StopAsync();
        provider.ForceFlush();

        Activity run = spans.Single(s => Equals(s.GetTagItem("job.name"), name));
        Assert.AreEqual(fired, run.Links.Single().Context);
        Assert.AreEqual(Version, run.Source.Version);
        Assert.AreEqual(default, run.ParentSpanId, "A run is linked to the fire, not a child of the request.");
    }

    [TestMethod]
    public async Task Traces_ManyFiresBeforeTheTimerStarts_TheRunLinksToTheFirstThirtyTwo()
    {
        string name = "capped-" + Guid.NewGuid().ToString("N");
        var spans = new List<Activity>();
        using var caller = new ActivitySource("caller-" + name);
        using TracerProvider provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(JobsActivitySource.Name, caller.Name)
            .AddInMemoryExporter(spans)
            .Build();
        await using var harness = new GroupHarness();
        var trigger = new Trigger(timeProvider: harness.Time);
        var fired = new List<ActivityContext>();
        for (int i = 0; i < 40; i++)
        {
            using Activity request = caller.StartActivity("request " + i)!;
            fired.Add(request.Context);
            trigger.Fire();
        }

        var ran = new SemaphoreSlim(0);
        harness.Add(Job.Timer(name, _ => Task.FromResult(ran.Release()), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
        await harness.StartAsync();
        await ran.WaitOrTimeout();
        await harness.StopAsync();
        provider.ForceFlush();

        // The fires made before the timer started are kept for it, their links with them, up to a bound.
        Activity run = spans.Single(s => Equals(s.GetTagItem("job.name"), name));
        CollectionAssert.AreEqual(fired.Take(32).ToArray(), run.Links.Select(l => l.Context).ToArray());
    }

    [TestMethod]
    public async Task Metrics_AttemptFailsThenSucceeds_EachDurationCarriesItsOutcomeAndTheFailureItsErrorType()
    {
        string name = "outcome-" + Guid.NewGuid().ToString("N");
        var exported = new List<Metric>();
        using MeterProvider provider = ExportMetricsTo(exported);
        using var metrics = new MeterJobMetrics(_meterFactory);
        var registry = new JobRegistry(metrics: metrics);
        IJobGroup group = registry.NewGroup(new HealthTree());
        int attempts = 0;
        Job job = Job.OneShot(
            name,
            (_, _) => Interlocked.Increment(ref attempts) == 1 ? throw new InvalidOperationException("first") : Task.CompletedTask,
            new OneShotOptions { Retries = 1 });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();
        provider.ForceFlush();

        MetricPoint[] points = FindAll(exported, "jobs.oneshot.run.duration", name);
        MetricPoint failed = points.Single(p => Equals(Tag(p, "job.outcome"), "error"));
        Assert.AreEqual("System.InvalidOperationException", Tag(failed, "error.type"));
        Assert.AreEqual(1L, failed.GetHistogramCount());
        MetricPoint ok = points.Single(p => Equals(Tag(p, "job.outcome"), "ok"));
        Assert.IsNull(Tag(ok, "error.type"), "A success has no error type.");
        Assert.AreEqual(1L, ok.GetHistogramCount());
    }

    [TestMethod]
    public async Task MetricsAndTraces_TimerRunCutOffByTheStop_IsCancelledNotOkAndNotAnError()
    {
        string name = "cut-" + Guid.NewGuid().ToString("N");
        var exported = new List<Metric>();
        var spans = new List<Activity>();
        using MeterProvider meters = ExportMetricsTo(exported);
        using TracerProvider tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(JobsActivitySource.Name)
            .AddInMemoryExporter(spans)
            .Build();
        var time = new TestTimeProvider();
        using var metrics = new MeterJobMetrics(_meterFactory);
        var registry = new JobRegistry(timeProvider: time, metrics: metrics);
        IJobGroup group = registry.NewGroup(new HealthTree());
        var running = new SemaphoreSlim(0);
        group.Add(Job.Timer(
            name,
            async token =>
            {
                running.Release();
                await token.UntilCancelledAsync();
            },
            TimeSpan.FromMinutes(1)));

        await group.StartAsync(CancellationToken.None);
        await time.WaitForTimerAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        await running.WaitOrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();
        meters.ForceFlush();
        tracer.ForceFlush();

        MetricPoint point = FindAll(exported, "jobs.timer.run.duration", name).Single();
        Assert.AreEqual("cancelled", Tag(point, "job.outcome"));
        Assert.IsNull(Tag(point, "error.type"), "A run the stop cut off did not fail.");
        Activity run = spans.Single(s => Equals(s.GetTagItem("job.name"), name));
        Assert.AreEqual("cancelled", run.GetTagItem("job.outcome"));
        Assert.AreEqual(ActivityStatusCode.Unset, run.Status);
    }

    [TestMethod]
    public async Task Traces_RunFails_TheSpanHasStatusErrorAndTheErrorType()
    {
        string name = "failed-span-" + Guid.NewGuid().ToString("N");
        var spans = new List<Activity>();
        using TracerProvider provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(JobsActivitySource.Name)
            .AddInMemoryExporter(spans)
            .Build();
        await using var harness = new GroupHarness();
        Job job = Job.OneShot(name, (_, _) => throw new TimeoutException("slow"));
        harness.Add(job);

        await harness.StartAsync();
        await job.Completion.OrTimeout();
        await harness.StopAsync();
        provider.ForceFlush();

        Activity run = spans.Single(s => Equals(s.GetTagItem("job.name"), name));
        Assert.AreEqual(ActivityStatusCode.Error, run.Status);
        Assert.AreEqual("System.TimeoutException", run.GetTagItem("error.type"));
        Assert.AreEqual("error", run.GetTagItem("job.outcome"));
    }

    [TestMethod]
    public async Task Metrics_RunsInFlight_CountsARunWhileItRunsAndNotAfter()
    {
        string name = "active-" + Guid.NewGuid().ToString("N");
        var exported = new List<Metric>();
        using MeterProvider provider = ExportMetricsTo(exported);
        using var metrics = new MeterJobMetrics(_meterFactory);
        var registry = new JobRegistry(metrics: metrics);
        IJobGroup group = registry.NewGroup(new HealthTree());
        var running = new SemaphoreSlim(0);
        var release = new TaskCompletionSource();
        Job job = Job.OneShot(name, (_, _) =>
        {
            running.Release();
            return release.Task;
        });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await running.WaitOrTimeout();
        provider.ForceFlush();
        (Metric active, MetricPoint during) = Find(exported, "jobs.run.active", name);
        long whileRunning = during.GetSumLong();
        exported.Clear();
        release.SetResult();
        await job.Completion.OrTimeout();
        provider.ForceFlush();
        (_, MetricPoint after) = Find(exported, "jobs.run.active", name);

        Assert.AreEqual("{run}", active.Unit);
        Assert.AreEqual(MetricType.LongSumNonMonotonic, active.MetricType);
        Assert.AreEqual("oneshot", Tag(during, "job.kind"));
        Assert.AreEqual(1L, whileRunning);
        Assert.AreEqual(0L, after.GetSumLong());
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public void Metrics_OutcomeOutOfRange_ThrowsNamingTheOutcome()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => metrics.TimerRunDuration("job", TimeSpan.Zero, (RunOutcome)42, error: null));
        Assert.AreEqual("outcome", error.ParamName);
    }

    /// <summary>A meter provider with the SDK's defaults that exports the library's meter to <paramref name="exported"/>.</summary>
    private static MeterProvider ExportMetricsTo(List<Metric> exported) =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter(MeterJobMetrics.MeterName)
            .AddInMemoryExporter(exported)
            .Build();

    /// <summary>
    /// Finds the point of one job in one instrument. Tests run in parallel, each with its own meter
    /// of the same name, so the provider may export the instrument several times: the job's name
    /// picks the point.
    /// </summary>
    private static (Metric Metric, MetricPoint Point) Find(List<Metric> exported, string instrument, string jobName) =>
        exported.Where(m => m.Name == instrument)
            .SelectMany(m => Points(m).Select(p => (m, p)))
            .Single(found => Tag(found.p, "job.name") as string == jobName);

    /// <summary>Finds every point of one job in one instrument: one per outcome, for a duration.</summary>
    private static MetricPoint[] FindAll(List<Metric> exported, string instrument, string jobName) =>
        [.. exported.Where(m => m.Name == instrument).SelectMany(Points).Where(p => Tag(p, "job.name") as string == jobName)];

    private static List<MetricPoint> Points(Metric metric)
    {
        var points = new List<MetricPoint>();
        foreach (ref readonly MetricPoint point in metric.GetMetricPoints())
        {
            points.Add(point);
        }

        return points;
    }

    private static object? Tag(MetricPoint point, string key)
    {
        foreach (KeyValuePair<string, object?> tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }

    private static (double Bound, long Count)[] Buckets(MetricPoint point)
    {
        var buckets = new List<(double, long)>();
        foreach (HistogramBucket bucket in point.GetHistogramBuckets())
        {
            buckets.Add((bucket.ExplicitBound, bucket.BucketCount));
        }

        return [.. buckets];
    }
}
