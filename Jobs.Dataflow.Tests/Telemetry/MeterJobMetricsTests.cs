using System.Diagnostics;
using System.Diagnostics.Metrics;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Jobs.Dataflow.Tests.Telemetry;

[TestClass]
public sealed class MeterJobMetricsTests
{
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
    public void Instruments_Published_HaveTheirUnitsDescriptionsAndFoldBuckets()
    {
        var published = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, _meterFactory))
                {
                    published.Add(instrument);
                }
            },
        };
        listener.Start();

        using var metrics = new MeterJobMetrics(_meterFactory);

        string[] described = [.. published.Select(i => $"{i.Name} [{i.Unit}] {i.Description}").Order(StringComparer.Ordinal)];
        CollectionAssert.AreEqual(
            new[]
            {
                "jobs.errors [{error}] Errors thrown by job functions and handlers.",
                "jobs.observer.item.duration [s] Duration of an observer job's handler for one item.",
                "jobs.oneshot.run.duration [s] Duration of one attempt of a one-shot job.",
                "jobs.pipeline.stage.duration [s] Duration of a pipeline stage's function for one item or batch.",
                "jobs.pipeline.stage.failures [{item}] Items that failed for good in a pipeline stage.",
                "jobs.pipeline.stage.items [{item}] Items that left a pipeline stage.",
                "jobs.pipeline.stage.queue [{item}] Items waiting in front of a pipeline stage.",
                "jobs.run.active [{run}] One-shot attempts and timer runs in flight.",
                "jobs.timer.run.duration [s] Duration of one run of a timer job.",
                "jobs.timer.trigger.folds [{fire}] Number of fires folded into one triggered timer run.",
                "jobs.timer.trigger.latency [s] Time from the first fire folded into a triggered timer run to the run's start.",
            },
            described);
        var folds = (Histogram<int>)published.Single(i => i.Name == "jobs.timer.trigger.folds");
        CollectionAssert.AreEqual(new[] { 1, 2, 5, 10, 25, 50, 100, 250, 1000 }, folds.Advice!.HistogramBucketBoundaries!.ToArray());
    }

    [TestMethod]
    [DataRow("jobs.oneshot.run.duration", "oneshot")]
    [DataRow("jobs.timer.run.duration", "timer")]
    [DataRow("jobs.observer.item.duration", "observer")]
    public void RunDuration_EachKind_RecordsSecondsTaggedWithNameAndKind(string instrument, string kind)
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var collector = new MetricCollector<double>(_meterFactory, MeterJobMetrics.MeterName, instrument);
        Action<IJobMetrics, TimeSpan> record = kind switch
        {
            "oneshot" => (m, d) => m.OneShotRunDuration("job", d),
            "timer" => (m, d) => m.TimerRunDuration("job", d),
            _ => (m, d) => m.ObserverRunDuration("job", d),
        };

        record(metrics, TimeSpan.FromMilliseconds(250));

        CollectedMeasurement<double> measurement = collector.GetMeasurementSnapshot().Single();
        Assert.AreEqual(0.25, measurement.Value);
        Assert.AreEqual("job", measurement.Tags["job.name"]);
        Assert.AreEqual(kind, measurement.Tags["job.kind"]);
        Assert.AreEqual("s", collector.Instrument!.Unit);
    }

    [TestMethod]
    public void TimerTriggerStats_Recorded_AsLatencyAndFolds()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var latency = new MetricCollector<double>(_meterFactory, MeterJobMetrics.MeterName, "jobs.timer.trigger.latency");
        using var folds = new MetricCollector<int>(_meterFactory, MeterJobMetrics.MeterName, "jobs.timer.trigger.folds");

        metrics.TimerTriggerStats("flush", TimeSpan.FromSeconds(2), 3);

        Assert.AreEqual(2.0, latency.LastMeasurement!.Value);
        Assert.AreEqual(3, folds.LastMeasurement!.Value);
        Assert.AreEqual("flush", folds.LastMeasurement.Tags["job.name"]);
    }

    [TestMethod]
    public async Task JobError_FromAGroupWithLabels_CountsWithKindErrorTypeAndLabels()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var errors = new MetricCollector<long>(_meterFactory, MeterJobMetrics.MeterName, "jobs.errors");
        var registry = new JobRegistry(metrics: metrics);
        IJobGroup group = registry.NewGroup(new HealthTree(), new JobGroupOptions { Labels = new Dictionary<string, object?> { ["tenant"] = "acme" } });
        group.Add(Job.OneShot("fails", (_, _) => throw new TimeoutException("slow")));

        await group.StartAsync(CancellationToken.None);
        await errors.WaitForMeasurementsAsync(1, Waits.Timeout);
        await group.StopAsync(CancellationToken.None).OrTimeout();

        CollectedMeasurement<long> error = errors.LastMeasurement!;
        Assert.AreEqual(1, error.Value);
        Assert.AreEqual("fails", error.Tags["job.name"]);
        Assert.AreEqual("oneshot", error.Tags["job.kind"]);
        Assert.AreEqual(typeof(TimeoutException).FullName, error.Tags["error.type"]);
        Assert.AreEqual("acme", error.Tags["tenant"]);
    }

    [TestMethod]
    public void JobView_EveryInstrument_CarriesTheGroupsLabelsAsTags()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        var tagged = new List<(string Instrument, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, _meterFactory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Collect(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (tagged)
            {
                tagged.Add((instrument.Name, new Dictionary<string, object?>(tags.ToArray())));
            }
        }

        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Collect(instrument, tags));
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Collect(instrument, tags));
        listener.SetMeasurementEventCallback<int>((instrument, _, tags, _) => Collect(instrument, tags));
        listener.Start();
        var labels = new LabelsScope(new Dictionary<string, object?> { ["tenant"] = "acme" });
        IJobMetrics timer = metrics.ForJob(JobKinds.Timer, labels);
        IJobMetrics others = metrics.ForJob(JobKinds.Pipeline, labels);

        timer.TimerRunDuration("t", TimeSpan.FromSeconds(1), RunOutcome.Ok, error: null);
        timer.TimerTriggerStats("t", TimeSpan.FromSeconds(1), 2);
        timer.RunsInFlight("t", JobKinds.Timer, 1);
        others.OneShotRunDuration("o", TimeSpan.FromSeconds(1), RunOutcome.Ok, error: null);
        others.ObserverRunDuration("obs", TimeSpan.FromSeconds(1), RunOutcome.Ok, error: null);
        others.PipelineStageDuration("p", "s", TimeSpan.FromSeconds(1));
        others.PipelineStageItems("p", "s", 1);
        others.PipelineStageFailed("p", "s");
        others.JobError("p", new InvalidOperationException());
        using (others.ObservePipelineStageQueue("p", "s", () => 3))
        {
            listener.RecordObservableInstruments();
        }

        string[] expected =
        [
            "jobs.timer.run.duration", "jobs.timer.trigger.latency", "jobs.timer.trigger.folds", "jobs.run.active",
            "jobs.oneshot.run.duration", "jobs.observer.item.duration", "jobs.pipeline.stage.duration",
            "jobs.pipeline.stage.items", "jobs.pipeline.stage.failures", "jobs.errors", "jobs.pipeline.stage.queue",
        ];
        CollectionAssert.AreEquivalent(expected, tagged.Select(t => t.Instrument).ToArray());
        foreach ((string instrument, Dictionary<string, object?> tags) in tagged)
        {
            Assert.AreEqual("acme", tags.GetValueOrDefault("tenant"), instrument);
        }
    }

    [TestMethod]
    public void Constructor_NullFactory_ThrowsNamingMeterFactory()
    {
        Assert.AreEqual("meterFactory", Assert.ThrowsExactly<ArgumentNullException>(() => new MeterJobMetrics(null!)).ParamName);
    }

    [TestMethod]
    public void RunDuration_UndefinedOutcome_ThrowsNamingIt()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        var undefined = (RunOutcome)9;

        foreach (Action record in new Action[]
        {
            () => metrics.OneShotRunDuration("job", TimeSpan.FromSeconds(1), undefined, error: null),
            () => metrics.TimerRunDuration("job", TimeSpan.FromSeconds(1), undefined, error: null),
            () => metrics.ObserverRunDuration("job", TimeSpan.FromSeconds(1), undefined, error: null),
        })
        {
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(record);
            Assert.AreEqual("outcome", error.ParamName);
            Assert.AreEqual(undefined, error.ActualValue);
            StringAssert.StartsWith(error.Message, "Not a run outcome.");
        }
    }
}
