using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-37 (rule 27 for pipelines): a plain stop cancels every stage and counts
/// what it discards; a draining stop lets every item taken from the source reach the sink or the
/// dead letter with live tokens, until the stop's token fires.
/// </summary>
[TestClass]
public sealed class PipelineStopTests
{
    private const string Scope = "pipeline-job-p";

    [TestMethod]
    [DataRow(false, nameof(Log.ItemsDiscarded), DisplayName = "Plain stop")]
    [DataRow(true, nameof(Log.SourceLateItem), DisplayName = "Draining stop")]
    public async Task StopAsync_StreamBlocksInsideMoveNextAsync_EndsAfterTheGraceAndLogsTheItemItReturnsLate(bool drainOnStop, string eventName)
    {
        await using var harness = new GroupHarness();
        using var stream = new StreamThatBlocks(itemsFirst: 2);
        var sunk = new ConcurrentQueue<int>();
        Job job = Job.Pipeline("stuck", stream, new PipelineOptions { DrainOnStop = drainOnStop })
            .Transform("same", x => x)
            .Sink("collect", (int item, CancellationToken _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            });
        harness.Add(job);
        await harness.StartAsync();
        await stream.StopWhileBlockedAsync(harness, job);

        if (drainOnStop)
        {
            CollectionAssert.AreEqual(new[] { 1, 2 }, sunk.ToArray(), "The items taken before the stop reach the sink.");
        }

        // The call, left behind, returns an item nobody can handle any more.
        await stream.ReturnLateAsync(harness, eventName);
    }

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task StopAsync_Default_CancelsTheSinksTokenAndLogsTheCountOfDiscardedItems(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var handler = new GatedHandler();
        var mapped = new Countdown(5);
        harness.Add(source.Pipeline("p").Transform("count", mapped.Signal).Sink("collect", handler.UntilCancelled));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5);
        await Task.WhenAll(handler.WaitForFirstAsync(), mapped.WaitAsync()).OrTimeout();
        await harness.StopAsync();

        // The sink only ends when its token is cancelled, so the stop returning shows it was. Item 1
        // ended by that cancellation, items 2 to 5 waited in the stages: all five are discarded.
        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(LogLevel.Information, discarded.Level);
        Assert.AreEqual("p", discarded["JobName"]);
        Assert.AreEqual(5L, discarded["Count"]);
        AssertStoppedQuietly(harness);
    }

    [TestMethod]
    public async Task StopAsync_DefaultWithItemsThatAreArrays_CountsEachItemOnce()
    {
        await using var harness = new GroupHarness();
        var channel = System.Threading.Channels.Channel.CreateUnbounded<int[]>();
        var inSink = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mapped = new Countdown(3);
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Transform("count", lines =>
            {
                mapped.Signal(0);
                return lines;
            })
            .Sink("collect", async (_, token) =>
            {
                inSink.TrySetResult();
                await token.UntilCancelledAsync();
            }));

        await harness.StartAsync();

        // The source's items happen to be arrays (records of ten fields, say): each is still one item.
        for (int i = 0; i < 3; i++)
        {
            channel.Writer.TryWrite(new int[10]);
        }

        await Task.WhenAll(inSink.Task, mapped.WaitAsync()).OrTimeout();
        await harness.StopAsync();

        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(3L, discarded["Count"]);
    }

    [TestMethod]
    public async Task StopAsync_DefaultAfterABatch_CountsTheItemsOfEachBatch()
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(SourceKind.Channel);
        var inSink = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mapped = new Countdown(7);
        harness.Add(source.Pipeline("p")
            .Transform("count", mapped.Signal)
            .Batch("batch", 3)
            .Sink("collect", async (_, token) =>
            {
                inSink.TrySetResult();
                await token.UntilCancelledAsync();
            }));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5, 6, 7);
        await Task.WhenAll(inSink.Task, mapped.WaitAsync()).OrTimeout();
        await harness.StopAsync();

        // A batch in the sink, a batch waiting for it, and item 7 in a partial batch: seven items.
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(7L, discarded["Count"]);
    }

    [TestMethod]
    public async Task StopAsync_DefaultWhileAMiddleStageWaits_CancelsItsTokenAndCountsItsItems()
    {
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(5);
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", stream)
            .Transform("wait", async (int x, CancellationToken token) =>
            {
                inside.TrySetResult();
                await token.UntilCancelledAsync();
                return x;
            })
            .Where("all", _ => true)
            .Sink("collect", (item, _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await Task.WhenAll(inside.Task, stream.WaitForYieldedAsync(5)).OrTimeout();
        await harness.StopAsync();

        Assert.IsEmpty(sunk);
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(5L, discarded["Count"]);
        AssertStoppedQuietly(harness);
    }

    [TestMethod]
    public async Task StopAsync_DefaultWhilePumpHoldsAnItem_CountsItWithTheOthers()
    {
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(100);
        var handler = new GatedHandler();
        harness.Add(Job.Pipeline("p", stream, new PipelineOptions { BoundedCapacity = 1 })
            .Transform("same", x => x)
            .Sink("collect", handler.UntilCancelled));

        await harness.StartAsync();

        // Item 1 in the sink, item 2 waiting in the transform, item 3 in the pump's hand.
        await Task.WhenAll(handler.WaitForFirstAsync(), stream.WaitForYieldedAsync(3)).OrTimeout();
        await harness.StopAsync();

        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual((long)stream.Yielded, discarded["Count"], "Every item taken from the source and not handled is counted once.");
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task StopAsync_DefaultWhilePumpWaitsForTheFirstStageToDrain_CountsEveryTakenItem(SourceKind kind)
    {
        // Capacity 8: item 1 is in the sink's function, items 2 to 9 fill its block, and item 10 is
        // in the pump's hand while it waits for the block to drain by half.
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(20);
        var handler = new GatedHandler();
        var options = new PipelineOptions { BoundedCapacity = 8 };
        Pipeline<int> pipeline = kind == SourceKind.Channel ? Job.Pipeline("p", stream.AsChannel(), options) : Job.Pipeline("p", stream, options);
        harness.Add(pipeline.Sink("collect", handler.UntilCancelled));

        await harness.StartAsync();
        await Task.WhenAll(handler.WaitForFirstAsync(), stream.WaitForYieldedAsync(10)).OrTimeout();
        await harness.StopAsync();

        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
        Assert.AreEqual(10, stream.Yielded, "The pump must not take more once the first stage is full.");
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(10L, discarded["Count"], "Every item taken from the source and not handled is counted once.");
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task StopAsync_DrainOnStopWhilePumpWaitsForTheFirstStageToDrain_HandlesEveryTakenItem(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(20);
        var handler = new GatedHandler();
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        var options = new PipelineOptions { DrainOnStop = true, BoundedCapacity = 8 };
        Pipeline<int> pipeline = kind == SourceKind.Channel ? Job.Pipeline("p", stream.AsChannel(), options) : Job.Pipeline("p", stream, options);
        harness.Add(pipeline.Sink("collect", handler.UntilReleased), witness);

        await harness.StartAsync();
        await Task.WhenAll(handler.WaitForFirstAsync(), stream.WaitForYieldedAsync(10), witnessRunning).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        handler.Release();
        await stop.OrTimeout();

        CollectionAssert.AreEqual(Enumerable.Range(1, 10).ToArray(), handler.FinishedItems, "An item taken before the stop was lost.");
        Assert.AreEqual(10, stream.Yielded, "The pump must not take more from the source once stopped.");
        Assert.IsTrue(handler.Finished.All(f => !f.Cancelled));
    }

    [TestMethod]
    public async Task StopAsync_FirstStageIgnoresTheStopWhilePumpWaitsForItToDrain_LetsTheSourceGoAtOnce()
    {
        // The sink's function ignores the stop: its block starts nothing more until it returns, so
        // only the stop's token can end the pump's wait for the block to drain.
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(20);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.Pipeline("p", stream, new PipelineOptions { BoundedCapacity = 8 }).Sink("collect", async (_, _) =>
        {
            entered.TrySetResult();
            await release.Task;
        }));

        await harness.StartAsync();
        await Task.WhenAll(entered.Task, stream.WaitForYieldedAsync(10)).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        try
        {
            await stream.Released.OrTimeout();
            Assert.IsFalse(stop.IsCompleted, "The stop waits for the function that ignores it.");
        }
        finally
        {
            release.TrySetResult();
        }

        await stop.OrTimeout();
        LogEntry discarded = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(9L, discarded["Count"], "Items 2 to 9 skipped by the sink and item 10 in the pump's hand.");
        Assert.AreEqual(10, stream.Yielded);
    }

    [TestMethod]
    public async Task StopAsync_DrainCutShortWhilePumpWaitsForTheFirstStageToDrain_WarnsWithTheCountOfEveryTakenItem()
    {
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(20);
        var handler = new GatedHandler();
        harness.Add(Job.Pipeline("p", stream, new PipelineOptions { DrainOnStop = true, BoundedCapacity = 8 }).Sink("collect", handler.UntilCancelled));

        await harness.StartAsync();
        await Task.WhenAll(handler.WaitForFirstAsync(), stream.WaitForYieldedAsync(10)).OrTimeout();
        using var expired = new CancellationTokenSource();
        await expired.CancelAsync();
        await harness.Group.StopAsync(expired.Token).OrTimeout();

        await harness.WaitForEndAsync("p");
        LogEntry cutShort = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.DrainCutShort));
        Assert.AreEqual(LogLevel.Warning, cutShort.Level);
        Assert.AreEqual(10L, cutShort["Count"]);
        Assert.AreEqual(10, stream.Yielded);
    }

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task StopAsync_DrainOnStop_EveryTakenItemReachesTheSinkOrTheDeadLetterWithLiveTokens(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sunk = new ConcurrentQueue<(int Item, bool Cancelled)>();
        var letters = new ConcurrentQueue<(object? Item, bool Cancelled)>();
        var mapped = new Countdown(6);
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        var options = new PipelineOptions
        {
            DrainOnStop = true,
            DeadLetter = (letter, token) =>
            {
                letters.Enqueue((letter.Item, token.IsCancellationRequested));
                return Task.CompletedTask;
            },
        };
        harness.Add(
            source.Pipeline("p", options)
                .Transform("count", mapped.Signal)
                .Where("not-four", x => x != 4)
                .Sink("collect", async (item, token) =>
                {
                    entered.TrySetResult();
                    await release.Task;
                    if (item == 2)
                    {
                        throw new FormatException("two");
                    }

                    sunk.Enqueue((item, token.IsCancellationRequested));
                }),
            witness);

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5, 6);
        await Task.WhenAll(entered.Task, mapped.WaitAsync(), witnessRunning).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        Assert.IsFalse(stop.IsCompleted, "The stop did not wait for the items taken.");

        release.SetResult();
        await stop.OrTimeout();

        CollectionAssert.AreEqual(new[] { (1, false), (3, false), (5, false), (6, false) }, sunk.ToArray());
        CollectionAssert.AreEqual(new[] { ((object?)2, false) }, letters.ToArray());
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name is nameof(Log.ItemsDiscarded) or nameof(Log.DrainCutShort)));
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task StopAsync_DrainOnStopWhilePumpHoldsAnItem_HandlesEveryItemTaken(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var stream = new YieldCounter(100);
        var handler = new GatedHandler();
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        var options = new PipelineOptions { DrainOnStop = true, BoundedCapacity = 1 };
        Pipeline<int> pipeline = kind == SourceKind.Channel ? Job.Pipeline("p", stream.AsChannel(), options) : Job.Pipeline("p", stream, options);
        harness.Add(pipeline.Transform("same", x => x).Sink("collect", handler.UntilReleased), witness);

        await harness.StartAsync();
        await Task.WhenAll(handler.WaitForFirstAsync(), stream.WaitForYieldedAsync(3), witnessRunning).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        handler.Release();
        await stop.OrTimeout();

        int taken = stream.Yielded;
        Assert.IsGreaterThanOrEqualTo(3, taken);
        CollectionAssert.AreEqual(Enumerable.Range(1, taken).ToArray(), handler.FinishedItems, "An item taken before the stop was lost.");
        Assert.IsTrue(handler.Finished.All(f => !f.Cancelled));
    }

    [TestMethod]
    public Task StopAsync_DrainOnStopWithABlockSourceSlowToUnlink_TakesNothingMoreFromIt() =>
        SlowUnlinkBlock.AssertADrainingStopTakesNothingMoreAsync(
            (source, handler) => Job.Pipeline("p", source, new PipelineOptions { DrainOnStop = true, BoundedCapacity = 1 }).Sink("collect", handler));

    [TestMethod]
    public async Task StopAsync_DrainOnStopWithAPartialBatch_FlushesItToTheSink()
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(SourceKind.Channel);
        var batches = new ConcurrentQueue<int[]>();
        var mapped = new Countdown(3);
        harness.Add(source.Pipeline("p", new PipelineOptions { DrainOnStop = true })
            .Transform("count", mapped.Signal)
            .Batch("batch", 10, TimeSpan.FromHours(1))
            .Sink("collect", (batch, token) =>
            {
                Assert.IsFalse(token.IsCancellationRequested);
                batches.Enqueue(batch);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3);
        await mapped.WaitAsync();
        await harness.StopAsync();

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, batches.Single());
    }

    [TestMethod]
    public async Task StopAsync_DrainCutShortByTheStopToken_CancelsTheStagesTokenAndWarnsWithTheCount()
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(SourceKind.Channel);
        var sinkToken = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var mapped = new Countdown(3);
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        harness.Add(
            source.Pipeline("p", new PipelineOptions { DrainOnStop = true })
                .Transform("count", mapped.Signal)
                .Sink("collect", async (_, token) =>
                {
                    sinkToken.TrySetResult(token);
                    await token.UntilCancelledAsync();
                }),
            witness);

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3);
        CancellationToken token = await sinkToken.OrTimeout();
        await Task.WhenAll(mapped.WaitAsync(), witnessRunning).OrTimeout();
        using var deadline = new CancellationTokenSource();
        Task stop = harness.Group.StopAsync(deadline.Token);
        await cancelled.OrTimeout();

        Assert.IsFalse(token.IsCancellationRequested, "While draining, the stages' token must stay live after the group's token fired.");
        Assert.IsFalse(stop.IsCompleted);
        await deadline.CancelAsync();
        await stop.OrTimeout();

        // The stop returned when its token fired; the job ends right after, and says what it could not handle.
        Assert.IsTrue(token.IsCancellationRequested);
        await harness.WaitForEndAsync("p");
        LogEntry cutShort = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.DrainCutShort));
        Assert.AreEqual(LogLevel.Warning, cutShort.Level);
        Assert.AreEqual("p", cutShort["JobName"]);
        Assert.AreEqual(3L, cutShort["Count"]);
        await harness.Health.WaitForCloseAsync(Scope);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable, false)]
    [DataRow(SourceKind.Channel, false)]
    [DataRow(SourceKind.Observable, false)]
    [DataRow(SourceKind.Block, false)]
    [DataRow(SourceKind.AsyncEnumerable, true)]
    [DataRow(SourceKind.Channel, true)]
    [DataRow(SourceKind.Observable, true)]
    [DataRow(SourceKind.Block, true)]
    public async Task StopAsync_SourceNeverProduces_EndsAtOnceAndClosesTheScope(SourceKind kind, bool drainOnStop)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        harness.Add(source.Pipeline("p", new PipelineOptions { DrainOnStop = drainOnStop })
            .Batch("batch", 2, TimeSpan.FromSeconds(1))
            .Sink("collect", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");
        await harness.StopAsync();

        Assert.IsTrue(harness.Health.Reports.Any(r => r.Path == Scope && r.Closed));
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Warning));
    }

    /// <summary>Checks that a stop was an ordinary end: no error, no warning, nothing counted, the scope closed.</summary>
    private static void AssertStoppedQuietly(GroupHarness harness)
    {
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Warning), string.Join("; ", harness.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message)));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        harness.Metrics.Verify(m => m.PipelineStageFailed(It.IsAny<string>(), It.IsAny<string>()), Times.Never);
        Assert.IsTrue(harness.Health.Reports.Any(r => r.Path == Scope && r.Closed), "The scope was not closed before StopAsync returned.");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level is HealthLevel.Degraded or HealthLevel.Failed));
    }

    /// <summary>A one-shot job that tells when it runs and when the group's token fires.</summary>
    private static (Job Job, Task Running, Task Cancelled) CancellationWitness()
    {
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Job witness = Job.OneShot("witness", async (_, token) =>
        {
            running.SetResult();
            await token.WhenCancelled();
            cancelled.SetResult();
        });
        return (witness, running.Task, cancelled.Task);
    }

    /// <summary>An identity stage function that tells when it has mapped a number of items.</summary>
    private sealed class Countdown(int count)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _seen;

        public int Signal(int item)
        {
            if (Interlocked.Increment(ref _seen) == count)
            {
                _done.SetResult();
            }

            return item;
        }

        public Task WaitAsync() => _done.OrTimeout();
    }

    /// <summary>Items 1 to N as a stream or a channel, counting what the job took from it.</summary>
    private sealed class YieldCounter(int count) : IAsyncEnumerable<int>
    {
        private readonly SemaphoreSlim _tookOne = new(0);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _yielded;

        public int Yielded => Volatile.Read(ref _yielded);

        /// <summary>Gets a task that completes when the job let go of the stream (disposed its enumerator).</summary>
        public Task Released => _released.Task;

        private bool HasMore => Yielded < count;

        public async Task WaitForYieldedAsync(int atLeast)
        {
            while (Yielded < atLeast)
            {
                await _tookOne.WaitOrTimeout();
            }
        }

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
            YieldAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

        /// <summary>A channel whose reader counts each item read from it.</summary>
        public System.Threading.Channels.ChannelReader<int> AsChannel() => new Reader(this);

        /// <summary>Takes the next item; only the job's pump calls it, one call at a time.</summary>
        private bool TryTake(out int item)
        {
            if (!HasMore)
            {
                item = 0;
                return false;
            }

            item = Interlocked.Increment(ref _yielded);
            _tookOne.Release();
            return true;
        }

        private async IAsyncEnumerable<int> YieldAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            try
            {
                await Task.Yield();
                while (!cancellationToken.IsCancellationRequested && TryTake(out int item))
                {
                    yield return item;
                }
            }
            finally
            {
                _released.TrySetResult();
            }
        }

        private sealed class Reader(YieldCounter owner) : System.Threading.Channels.ChannelReader<int>
        {
            public override bool TryRead(out int item) => owner.TryTake(out item);

            public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
                new(owner.HasMore);
        }
    }
}
