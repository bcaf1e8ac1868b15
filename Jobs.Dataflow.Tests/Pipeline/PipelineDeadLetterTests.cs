using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-33 and #rule-37: dead letters run in a block of their own, bounded by the
/// pipeline's capacity, so a full dead letter holds the failing stage back; a stop counts every
/// letter it keeps from the dead letter (the one it cancels, the ones still queued or waiting for
/// room) as discarded, each for the items its item stands for.
/// </summary>
[TestClass]
public sealed class PipelineDeadLetterTests
{
    [TestMethod]
    public async Task DeadLetter_FullWhileAnotherItemFails_HoldsTheStageBackAndDeliversEveryLetter()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var delivered = new ConcurrentQueue<int>();
        int attempted = 0;
        DeadLetterFunc deadLetter = async (letter, _) =>
        {
            await release.Task;
            delivered.Enqueue((int)letter.Item!);
        };
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { BoundedCapacity = 1, DeadLetter = deadLetter })
            .Transform("parse", (int x) =>
            {
                Interlocked.Increment(ref attempted);
                return Fail(x);
            })
            .Sink("write", (int _, CancellationToken _) => Task.CompletedTask));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);

        // The first letter holds the dead letter's only place: the second waits for room, and the
        // stage with it.
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered) && e.Exception?.Message == "bad 2").OrTimeout();
        Assert.AreEqual(2, Volatile.Read(ref attempted), "The stage took the third item while its second letter had no room.");
        release.SetResult();
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, delivered.ToArray());
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.ItemsDiscarded)), "A letter that waited for room was delivered, not discarded.");
    }

    [TestMethod]
    [DataRow(1, "sync", 2L, DisplayName = "A stage's thread waits for room for the second letter")]
    [DataRow(1, "async", 2L, DisplayName = "An asynchronous stage awaits room for the second letter")]
    [DataRow(2, "sync", 2L, DisplayName = "The second letter is queued behind the first")]
    [DataRow(1, "batch", 4L, DisplayName = "Letters of batches count each batch's items")]
    public async Task StopAsync_DeadLetterBusyAndALetterWaiting_CountsBothLettersItemsAsDiscarded(int capacity, string stage, long discarded)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var inDeadLetter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int delivered = 0;
        DeadLetterFunc deadLetter = async (_, token) =>
        {
            inDeadLetter.TrySetResult();
            await token.UntilCancelledAsync();
            Interlocked.Increment(ref delivered);
        };
        var options = new PipelineOptions { BoundedCapacity = capacity, DeadLetter = deadLetter };
        Pipeline<int> pipeline = Job.Pipeline("p", channel.Reader, options);
        harness.Add(stage switch
        {
            "sync" => pipeline.Transform("parse", Fail).Sink("write", (int _, CancellationToken _) => Task.CompletedTask),
            "async" => pipeline.Transform("parse", async (int x, CancellationToken _) =>
            {
                await Task.Yield();
                return Fail(x);
            }).Sink("write", (int _, CancellationToken _) => Task.CompletedTask),
            _ => pipeline.Batch("batch", 2).Sink("write", (int[] batch, CancellationToken _) => throw new FormatException($"bad {batch[^1]}")),
        });

        await harness.StartAsync();
        int items = stage == "batch" ? 4 : 2;
        for (int i = 1; i <= items; i++)
        {
            channel.Writer.TryWrite(i);
        }

        await inDeadLetter.Task.OrTimeout();
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered) && e.Exception?.Message == $"bad {items}").OrTimeout();
        await harness.StopAsync();

        Assert.AreEqual(0, Volatile.Read(ref delivered), "The stop cancelled the letter in the dead letter.");
        Assert.IsTrue(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.RunCancelled) && e.Level == Microsoft.Extensions.Logging.LogLevel.Debug), "The cancelled letter ended normally.");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.PipelineDeadLetterFailed)), "A letter ended by the stop is no failure of the dead letter.");
        LogEntry entry = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(discarded, entry["Count"]);
    }

    [TestMethod]
    public async Task StopAsync_LettersOfArrayItemsThatAreNoBatches_CountsEachAsOneItem()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int[]>();
        var inDeadLetter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DeadLetterFunc deadLetter = async (_, token) =>
        {
            inDeadLetter.TrySetResult();
            await token.UntilCancelledAsync();
        };
        var options = new PipelineOptions { BoundedCapacity = 1, DeadLetter = deadLetter };
        harness.Add(Job.Pipeline("p", channel.Reader, options)
            .Transform<int[]>("parse", record => throw new FormatException($"bad {record[0]}"))
            .Sink("write", (int[] _, CancellationToken _) => Task.CompletedTask));
        await harness.StartAsync();

        // Two source items, each an array of five: two items, not ten.
        channel.Writer.TryWrite([1, 0, 0, 0, 0]);
        channel.Writer.TryWrite([2, 0, 0, 0, 0]);
        await inDeadLetter.Task.OrTimeout();
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered) && e.Exception?.Message == "bad 2").OrTimeout();
        await harness.StopAsync();

        LogEntry entry = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(2L, entry["Count"], "An array that a source gives is one item; only a Batch stage's arrays stand for their length.");
    }

    private static int Fail(int item) => throw new FormatException($"bad {item}");
}
