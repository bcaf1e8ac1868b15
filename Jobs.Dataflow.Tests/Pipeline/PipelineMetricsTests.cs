using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-38 and #rule-39, metrics: per stage, the item duration (on the group's
/// clock, while a listener records it), the items out in chunks, the items failed, and the items
/// waiting in front of the stage, all tagged with the job, its kind, the stage and the group's labels.
/// </summary>
[TestClass]
public sealed class PipelineMetricsTests
{
    private static readonly Dictionary<string, object?> Labels = new() { ["tenant"] = "acme" };

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
    public async Task StageDuration_WithAListener_RecordsEachItemsTimeOnTheGroupsClockWithTags()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var durations = new MetricCollector<double>(_meterFactory, MeterJobMetrics.MeterName, "jobs.pipeline.stage.duration");
        await using var harness = new GroupHarness(new JobGroupOptions { Metrics = metrics, Labels = Labels });
        var stream = new SteppedStream();
        harness.Add(Job.Pipeline("p", stream)
            .Transform("slow", x =>
            {
                // The stage takes 250 ms on the group's clock.
                harness.Time.Advance(TimeSpan.FromMilliseconds(250));
                return x;
            })
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        stream.Write(1, 2);
        stream.Complete();
        await harness.WaitForEndAsync("p");

        CollectedMeasurement<double>[] slow = [.. durations.GetMeasurementSnapshot().Where(m => Equals(m.Tags["job.stage"], "slow"))];
        Assert.HasCount(2, slow);
        Assert.IsTrue(slow.All(m => m.Value == 0.25), string.Join(", ", slow.Select(m => m.Value)));
        AssertTags(slow[0], "slow");
        Assert.HasCount(2, durations.GetMeasurementSnapshot().Where(m => Equals(m.Tags["job.stage"], "store")));
    }

    [TestMethod]
    public async Task StageDuration_UsersMetricsSink_RecordsTheDurationOfEveryItemThatSucceeded()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        harness.Add(Job.Pipeline("p", stream)
            .Transform("slow", x =>
            {
                harness.Time.Advance(TimeSpan.FromSeconds(2));
                return x == 2 ? throw new FormatException("two") : x;
            })
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        stream.Write(1, 2, 3);
        stream.Complete();
        await harness.WaitForEndAsync("p");

        harness.Metrics.Verify(m => m.PipelineStageDuration("p", "slow", TimeSpan.FromSeconds(2)), Times.Exactly(2));
        harness.Metrics.Verify(m => m.PipelineStageDuration("p", "slow", It.IsAny<TimeSpan>()), Times.Exactly(2));
        harness.Metrics.Verify(m => m.PipelineStageDuration("p", "store", It.IsAny<TimeSpan>()), Times.Exactly(2));
    }

    [TestMethod]
    public async Task StageItems_ReportedInChunksAtEachReportAndAtTheEnd()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var items = new MetricCollector<long>(_meterFactory, MeterJobMetrics.MeterName, "jobs.pipeline.stage.items");
        await using var harness = new GroupHarness(new JobGroupOptions { Metrics = metrics, Labels = Labels });
        var stream = new SteppedStream();
        var sunk = new SemaphoreSlim(0);
        harness.Add(Job.Pipeline("p", stream)
            .Where("odd", x => x % 2 == 1)
            .Batch("pairs", 2)
            .Sink("store", (_, _) =>
            {
                sunk.Release();
                return Task.CompletedTask;
            }));
        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();

        // Nothing is reported per item: 1 to 4 give one batch, and no measurement yet.
        stream.Write(1, 2, 3, 4);
        await sunk.WaitOrTimeout();
        Assert.IsEmpty(items.GetMeasurementSnapshot());

        // After 10 s, the next item out of the sink reports each stage's chunk so far.
        harness.Time.Advance(TimeSpan.FromSeconds(10));
        stream.Write(5, 7);
        await sunk.WaitOrTimeout();
        await harness.Health.WaitForAsync("pipeline-job-p/stage-store", HealthLevel.Ok, "Running");
        CollectionAssert.AreEquivalent(new[] { ("odd", 4L), ("pairs", 4L), ("store", 2L) }, Chunks(items));
        AssertTags(items.GetMeasurementSnapshot().Single(m => Equals(m.Tags["job.stage"], "store")), "store");
        items.Clear();

        // The rest at the end.
        stream.Write(9);
        stream.Complete();
        await harness.WaitForEndAsync("p");
        CollectionAssert.AreEquivalent(new[] { ("odd", 1L), ("pairs", 1L), ("store", 1L) }, Chunks(items));
    }

    [TestMethod]
    public async Task StageItems_ReportedWhileTheStagesWork_AddUpToTheItemsThatLeftEachStage()
    {
        const int Items = 20_000;
        await using var harness = new GroupHarness();
        var reported = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        harness.Metrics
            .Setup(m => m.PipelineStageItems("p", It.IsAny<string>(), It.IsAny<long>()))
            .Callback((string _, string stage, long count) => reported.AddOrUpdate(stage, count, (_, sum) => sum + count));
        harness.Add(Job.Pipeline("p", Enumerable.Range(0, Items).ToAsyncEnumerable())
            .Transform("first", x => x)
            .Where("all", _ => true)
            .Transform("second", x => x)
            .Sink("store", (_, _) =>
            {
                // Every item takes 10 s: each one that leaves the sink makes the periodic report
                // while the stages before it go on with the next items.
                harness.Time.Advance(TimeSpan.FromSeconds(10));
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        foreach (string stage in new[] { "first", "all", "second", "store" })
        {
            Assert.AreEqual(Items, reported.GetValueOrDefault(stage), $"stage {stage}");
        }
    }

    [TestMethod]
    public async Task StageItems_StageThatGaveNothing_ReportsNoChunk()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        harness.Add(Job.Pipeline("p", stream)
            .Where("none", _ => false)
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        stream.Write(1, 2, 3);
        stream.Complete();
        await harness.WaitForEndAsync("p");

        // The Where stage took three items and let none out: no stage has items to report, not even 0.
        harness.Metrics.Verify(m => m.PipelineStageItems(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<long>()), Times.Never);
    }

    [TestMethod]
    public async Task StageFailures_CountedOncePerItemWithTheStagesTags()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var failures = new MetricCollector<long>(_meterFactory, MeterJobMetrics.MeterName, "jobs.pipeline.stage.failures");
        using var errors = new MetricCollector<long>(_meterFactory, MeterJobMetrics.MeterName, "jobs.errors");
        await using var harness = new GroupHarness(new JobGroupOptions { Metrics = metrics, Labels = Labels });
        var stream = new SteppedStream();
        harness.Add(Job.Pipeline("p", stream)
            .Transform("parse", x => x % 2 == 0 ? throw new FormatException("even") : x, new StageOptions { Retries = 2 })
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        stream.Write(1, 2, 3, 4);
        stream.Complete();
        await harness.WaitForEndAsync("p");

        CollectedMeasurement<long>[] failed = [.. failures.GetMeasurementSnapshot()];
        Assert.HasCount(2, failed);
        Assert.IsTrue(failed.All(m => m.Value == 1));
        AssertTags(failed[0], "parse");
        CollectedMeasurement<long>[] jobErrors = [.. errors.GetMeasurementSnapshot()];
        Assert.HasCount(2, jobErrors);
        Assert.AreEqual("pipeline", jobErrors[0].Tags["job.kind"]);
        Assert.AreEqual(typeof(FormatException).FullName, jobErrors[0].Tags["error.type"]);
        Assert.AreEqual("acme", jobErrors[0].Tags["tenant"]);
    }

    [TestMethod]
    public async Task StageQueue_ReadsTheItemsWaitingInFrontOfEachStageUntilTheJobEnds()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var queues = new MetricCollector<long>(_meterFactory, MeterJobMetrics.MeterName, "jobs.pipeline.stage.queue");
        await using var harness = new GroupHarness(new JobGroupOptions { Metrics = metrics, Labels = Labels });
        var stream = new SteppedStream();
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.Pipeline("p", stream)
            .Transform("slow", async (int x, CancellationToken _) =>
            {
                inside.TrySetResult();
                await release.Task;
                return x;
            })
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();

        // Item 1 is in the stage, items 2 to 5 wait in front of it.
        stream.Write(1, 2, 3, 4, 5);
        await stream.WaitForPullAsync(6);
        await inside.OrTimeout();
        queues.RecordObservableInstruments();
        CollectedMeasurement<long> slow = queues.GetMeasurementSnapshot().Single(m => Equals(m.Tags["job.stage"], "slow"));
        Assert.AreEqual(4, slow.Value);
        AssertTags(slow, "slow");
        Assert.AreEqual(0, queues.GetMeasurementSnapshot().Single(m => Equals(m.Tags["job.stage"], "store")).Value);

        release.SetResult();
        stream.Complete();
        await harness.WaitForEndAsync("p");
        queues.Clear();
        queues.RecordObservableInstruments();
        Assert.IsFalse(queues.GetMeasurementSnapshot().Any(m => Equals(m.Tags["job.name"], "p")), "An ended job's stages are still observed.");
    }

    [TestMethod]
    public async Task StageQueue_BatchStage_ReadsTheItemsThatArrivedAndAreNotInABatchThatLeft()
    {
        using var metrics = new MeterJobMetrics(_meterFactory);
        using var queues = new MetricCollector<long>(_meterFactory, MeterJobMetrics.MeterName, "jobs.pipeline.stage.queue");
        await using var harness = new GroupHarness(new JobGroupOptions { Metrics = metrics, Labels = Labels });
        var stream = new SteppedStream();
        var handler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.Pipeline("p", stream)
            .Batch("batch", 3)
            .Sink("store", async (_, _) =>
            {
                handler.TrySetResult();
                await release.Task;
            }));

        await harness.StartAsync();

        // The batch of 1 to 3 is in the sink; 4 and 5 arrived and wait for a third item.
        stream.Write(1, 2, 3, 4, 5);
        await stream.WaitForPullAsync(6);
        await handler.OrTimeout();
        queues.RecordObservableInstruments();
        CollectedMeasurement<long> batch = queues.GetMeasurementSnapshot().Single(m => Equals(m.Tags["job.stage"], "batch"));
        Assert.AreEqual(2, batch.Value);
        AssertTags(batch, "batch");

        release.SetResult();
        stream.Complete();
        await harness.WaitForEndAsync("p");
    }

    private static (string Stage, long Sum)[] Chunks(MetricCollector<long> items) =>
        [.. items.GetMeasurementSnapshot().GroupBy(m => (string)m.Tags["job.stage"]!).Select(g => (g.Key, g.Sum(m => m.Value)))];

    private static void AssertTags<T>(CollectedMeasurement<T> measurement, string stage)
        where T : struct
    {
        Assert.AreEqual("p", measurement.Tags["job.name"]);
        Assert.AreEqual("pipeline", measurement.Tags["job.kind"]);
        Assert.AreEqual(stage, measurement.Tags["job.stage"]);
        Assert.AreEqual("acme", measurement.Tags["tenant"]);
    }
}
