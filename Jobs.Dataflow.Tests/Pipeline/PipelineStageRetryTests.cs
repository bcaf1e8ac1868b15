using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-33 and #rule-37: how a stage retries an item (on the group's clock, a
/// backoff longer than a timer can wait capped to the longest wait, the last attempt's error on
/// the dead letter), and what a stop does to items waiting for a retry or for a stage.
/// </summary>
[TestClass]
public sealed class PipelineStageRetryTests
{
    [TestMethod]
    public async Task Stage_EveryRetryFailsWithANewError_DeadLettersTheLastAttemptsError()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var letters = new ConcurrentQueue<DeadLetter>();
        int attempts = 0;
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { DeadLetter = PipelineFailureTests.Collect(letters) })
            .Transform<int>("parse", _ => throw new FormatException("attempt " + Interlocked.Increment(ref attempts)), new StageOptions { Retries = 2 })
            .Sink("store", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        DeadLetter letter = letters.Single();
        Assert.AreEqual(3, letter.Attempts);
        Assert.AreEqual("attempt 3", letter.Error.Message);
    }

    [TestMethod]
    public async Task Stage_BackoffLongerThanATimerCanWait_RetriesAfterTheLongestWait()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        int attempts = 0;
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Transform(
                "parse",
                x => Interlocked.Increment(ref attempts) == 1 ? throw new IOException("not yet") : x,
                new StageOptions { Retries = 1, Backoff = new ConstantBackoff(TimeSpan.MaxValue) })
            .Sink("store", (item, _) =>
            {
                sunk.TrySetResult(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();
        channel.Writer.TryWrite(1);

        // The retry's wait is a timer on the group's clock; it waits the longest a timer can.
        await harness.Time.WaitForTimerAsync();
        harness.Time.Advance(TimeSpan.FromMilliseconds(uint.MaxValue - 1));

        Assert.AreEqual(1, await sunk.OrTimeout());
        Assert.AreEqual(2, attempts);
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
    }

    [TestMethod]
    public async Task StopAsync_ItemWaitsForARetry_CountsItAsDiscarded()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        var sunkFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Transform("parse", x => x == 2 ? throw new IOException("not yet") : x, new StageOptions { Retries = 1, Backoff = new ConstantBackoff(TimeSpan.FromMinutes(1)) })
            .Sink("store", (item, _) =>
            {
                sunk.Enqueue(item);
                sunkFirst.TrySetResult();
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();
        channel.Writer.TryWrite(1);
        await sunkFirst.OrTimeout();

        // Item 2 fails once and waits a minute on the group's clock for its retry.
        channel.Writer.TryWrite(2);
        await harness.Time.WaitForTimerAsync();
        await harness.StopAsync();

        CollectionAssert.AreEqual(new[] { 1 }, sunk.ToArray());
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(1L, discarded["Count"]);
        harness.Metrics.Verify(m => m.PipelineStageFailed(It.IsAny<string>(), It.IsAny<string>()), Times.Never);
    }

    [TestMethod]
    [DataRow("transform", 0)]
    [DataRow("many", 0)]
    [DataRow("many", 2)]
    public async Task StopAsync_ItemsReachAStageAfterTheStop_NeverGoToItsFunction(string kind, int retries)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var inGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sunkFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new ConcurrentQueue<int>();
        var sunk = new ConcurrentQueue<int>();
        var options = new StageOptions { Retries = retries };
        Pipeline<int> gated = Job.Pipeline("p", channel.Reader)
            .Transform("gate", async (int x, CancellationToken token) =>
            {
                if (x > 1)
                {
                    // Item 2 leaves this stage only once the stop has cancelled the stages' token.
                    inGate.TrySetResult();
                    await token.WhenCancelled();
                }

                return x;
            });
        Pipeline<int> next = kind == "many"
            ? gated.TransformMany("next", x => Seen(x, seen, [x]), options)
            : gated.Transform("next", x => Seen(x, seen, [x])[0], options);
        harness.Add(next.Sink("store", (item, _) =>
        {
            sunk.Enqueue(item);
            sunkFirst.TrySetResult();
            return Task.CompletedTask;
        }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        await sunkFirst.OrTimeout();
        channel.Writer.TryWrite(2);
        await inGate.OrTimeout();
        await harness.StopAsync();

        CollectionAssert.AreEqual(new[] { 1 }, seen.ToArray());
        CollectionAssert.AreEqual(new[] { 1 }, sunk.ToArray());
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(1L, discarded["Count"]);

        static int[] Seen(int x, ConcurrentQueue<int> seen, int[] result)
        {
            seen.Enqueue(x);
            return result;
        }
    }
}
