using Jobs.Dataflow.Tests.TestUtilities;
using Moq;

namespace Jobs.Dataflow.Tests.Telemetry;

/// <summary>
/// An <see cref="IJobMetrics"/> written before outcomes (it implements only the older members)
/// still receives every duration: the overloads with an outcome forward to them by default.
/// </summary>
[TestClass]
public sealed class JobMetricsCompatibilityTests
{
    [TestMethod]
    public async Task OneShot_SinkWithoutOutcomes_StillGetsTheDurationOfEveryAttempt()
    {
        var sink = new Mock<IJobMetrics> { CallBase = true };
        await using var harness = new GroupHarness();
        IJobGroup group = harness.Registry.NewGroup(new HealthTree(), new JobGroupOptions { Metrics = sink.Object });
        int attempts = 0;
        Job job = Job.OneShot(
            "old-sink",
            (_, _) => Interlocked.Increment(ref attempts) == 1 ? throw new InvalidOperationException("first") : Task.CompletedTask,
            new OneShotOptions { Retries = 1 });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();

        sink.Verify(m => m.OneShotRunDuration("old-sink", It.IsAny<TimeSpan>()), Times.Exactly(2));
    }

    [TestMethod]
    public async Task Observer_SinkWithoutOutcomes_StillGetsTheDurationOfEveryItem()
    {
        var sink = new Mock<IJobMetrics> { CallBase = true };
        await using var harness = new GroupHarness();
        IJobGroup group = harness.Registry.NewGroup(new HealthTree(), new JobGroupOptions { Metrics = sink.Object });
        Job job = Job.Observer("old-sink", (int _, CancellationToken _) => Task.CompletedTask, new[] { 1, 2, 3 }.ToAsyncEnumerable());
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();
        await group.StopAsync(CancellationToken.None).OrTimeout();

        sink.Verify(m => m.ObserverRunDuration("old-sink", It.IsAny<TimeSpan>()), Times.Exactly(3));
    }
}
