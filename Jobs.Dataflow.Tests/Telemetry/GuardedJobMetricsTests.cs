using System.Linq.Expressions;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Telemetry;

/// <summary>
/// docs/behaviour.md#rule-6 for metrics: a job reports to the user's sink through a guard. Every
/// report reaches the sink as given, and a sink that throws on any of them is logged against the job
/// (the first failure as an error) while the job goes on. End-to-end cases per kind of job are in
/// FaultToleranceTests; these cover every member, including the ones only some kinds of job call.
/// </summary>
[TestClass]
public sealed class GuardedJobMetricsTests
{
    private static readonly Exception Failure = new InvalidOperationException("sink down");

    private static readonly Dictionary<string, Expression<Action<IJobMetrics>>> Reports = new(StringComparer.Ordinal)
    {
        ["JobError"] = m => m.JobError("guarded", Failure),
        ["OneShotRunDuration"] = m => m.OneShotRunDuration("guarded", TimeSpan.FromSeconds(1)),
        ["OneShotRunDuration with outcome"] = m => m.OneShotRunDuration("guarded", TimeSpan.FromSeconds(2), RunOutcome.Error, Failure),
        ["TimerRunDuration"] = m => m.TimerRunDuration("guarded", TimeSpan.FromSeconds(3)),
        ["TimerRunDuration with outcome"] = m => m.TimerRunDuration("guarded", TimeSpan.FromSeconds(4), RunOutcome.Cancelled, null),
        ["TimerTriggerStats"] = m => m.TimerTriggerStats("guarded", TimeSpan.FromSeconds(5), 6),
        ["ObserverRunDuration"] = m => m.ObserverRunDuration("guarded", TimeSpan.FromSeconds(7)),
        ["ObserverRunDuration with outcome"] = m => m.ObserverRunDuration("guarded", TimeSpan.FromSeconds(8), RunOutcome.Ok, null),
        ["PipelineStageDuration"] = m => m.PipelineStageDuration("guarded", "parse", TimeSpan.FromSeconds(9)),
        ["PipelineStageItems"] = m => m.PipelineStageItems("guarded", "parse", 10),
        ["PipelineStageFailed"] = m => m.PipelineStageFailed("guarded", "parse"),
        ["RunsInFlight"] = m => m.RunsInFlight("guarded", "timer", -1),
    };

    public static IEnumerable<object[]> ReportNames => Reports.Keys.Select(name => new object[] { name });

    [TestMethod]
    [DynamicData(nameof(ReportNames))]
    public async Task Report_SinkAccepts_ReachesTheSinkAsGivenAndLogsNothing(string report)
    {
        Expression<Action<IJobMetrics>> call = Reports[report];
        var sink = new Mock<IJobMetrics>(MockBehavior.Strict);
        sink.Setup(call);
        await using var harness = new GroupHarness();
        IJobMetrics guarded = GuardFor(harness, sink.Object);

        call.Compile()(guarded);

        sink.Verify(call, Times.Once);
        sink.VerifyNoOtherCalls();
        Assert.IsEmpty(harness.Logs.Entries);
    }

    [TestMethod]
    [DynamicData(nameof(ReportNames))]
    public async Task Report_SinkThrows_LogsTheFailureAgainstTheJobAndReturns(string report)
    {
        Expression<Action<IJobMetrics>> call = Reports[report];
        var sink = new Mock<IJobMetrics>(MockBehavior.Strict);
        sink.Setup(call).Throws(Failure);
        await using var harness = new GroupHarness();
        IJobMetrics guarded = GuardFor(harness, sink.Object);

        call.Compile()(guarded);
        call.Compile()(guarded);

        sink.Verify(call, Times.Exactly(2));
        AssertLoggedTwice(harness);
    }

    [TestMethod]
    public async Task ObservePipelineStageQueue_SinkAccepts_ReturnsAGuardOverTheSinksSubscription()
    {
        var subscription = new Mock<IDisposable>(MockBehavior.Strict);
        subscription.Setup(s => s.Dispose());
        Func<long> queueLength = () => 42;
        var sink = new Mock<IJobMetrics>(MockBehavior.Strict);
        sink.Setup(m => m.ObservePipelineStageQueue("guarded", "parse", queueLength)).Returns(subscription.Object);
        await using var harness = new GroupHarness();
        IJobMetrics guarded = GuardFor(harness, sink.Object);

        IDisposable? returned = guarded.ObservePipelineStageQueue("guarded", "parse", queueLength);
        subscription.Verify(s => s.Dispose(), Times.Never);
        returned!.Dispose();

        subscription.Verify(s => s.Dispose(), Times.Once);
        Assert.IsEmpty(harness.Logs.Entries);
    }

    [TestMethod]
    public async Task ObservePipelineStageQueue_SubscriptionThrowsWhenDisposed_LogsTheFailure()
    {
        var subscription = new Mock<IDisposable>();
        subscription.Setup(s => s.Dispose()).Throws(new InvalidOperationException("gauge gone"));
        var sink = new Mock<IJobMetrics>();
        sink.Setup(m => m.ObservePipelineStageQueue(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<Func<long>>())).Returns(subscription.Object);
        await using var harness = new GroupHarness();
        IJobMetrics guarded = GuardFor(harness, sink.Object);

        guarded.ObservePipelineStageQueue("guarded", "parse", () => 0)!.Dispose();

        LogEntry failed = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.MetricsFailed));
        Assert.AreEqual("gauge gone", failed.Exception?.Message);
    }

    [TestMethod]
    public async Task ObservePipelineStageQueue_SinkReturnsNull_ReturnsNull()
    {
        var sink = new Mock<IJobMetrics>();
        await using var harness = new GroupHarness();
        IJobMetrics guarded = GuardFor(harness, sink.Object);

        Assert.IsNull(guarded.ObservePipelineStageQueue("guarded", "parse", () => 0));
    }

    [TestMethod]
    public async Task ObservePipelineStageQueue_SinkThrows_LogsTheFailureAndObservesNothing()
    {
        var sink = new Mock<IJobMetrics>(MockBehavior.Strict);
        sink.Setup(m => m.ObservePipelineStageQueue(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<Func<long>>())).Throws(Failure);
        await using var harness = new GroupHarness();
        IJobMetrics guarded = GuardFor(harness, sink.Object);

        Assert.IsNull(guarded.ObservePipelineStageQueue("guarded", "parse", () => 1));
        Assert.IsNull(guarded.ObservePipelineStageQueue("guarded", "parse", () => 1));

        AssertLoggedTwice(harness);
    }

    /// <summary>The guard a job named "guarded" in a group with <paramref name="sink"/> reports through.</summary>
    private static IJobMetrics GuardFor(GroupHarness harness, IJobMetrics sink)
    {
        var group = (JobGroup)harness.Registry.NewGroup(new HealthTree(), new JobGroupOptions { Metrics = sink });
        var context = new JobContext(Job.OneShot("guarded", (_, _) => Task.CompletedTask), NullHealth.Instance, group);
        Assert.IsInstanceOfType<GuardedJobMetrics>(context.Metrics, "A sink of the user's is reached through the guard.");
        return context.Metrics;
    }

    /// <summary>Asserts that two failures of the sink were logged against the job: the first as an error, the second at debug level.</summary>
    private static void AssertLoggedTwice(GroupHarness harness)
    {
        LogEntry[] entries = [.. harness.Logs.Entries];
        Assert.HasCount(2, entries);
        Assert.AreEqual(nameof(Log.MetricsFailed), entries[0].EventId.Name);
        Assert.AreEqual(LogLevel.Error, entries[0].Level);
        Assert.AreEqual(nameof(Log.MetricsFailedAgain), entries[1].EventId.Name);
        Assert.AreEqual(LogLevel.Debug, entries[1].Level);
        foreach (LogEntry entry in entries)
        {
            Assert.AreSame(Failure, entry.Exception);
            Assert.AreEqual("guarded", entry.Fields["JobName"]);
        }
    }
}
