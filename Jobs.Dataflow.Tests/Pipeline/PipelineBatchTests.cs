using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-34: whole batches while the input lasts, a partial batch <c>maxDelay</c>
/// after its own first item (on the group's clock) or at the source's end, never an empty batch,
/// and always room for a whole batch.
/// </summary>
/// <remarks>
/// The timing tests feed the batch stage from a <see cref="SteppedStream"/>, so the test knows
/// each item is in before it moves the fake clock, and read the clock's timer callbacks: they run
/// inside <c>Advance</c>, so "no callback yet" is exact. The only other timer of the job, the
/// 10-second health report, stays out of the way: these tests move the clock less than that.
/// </remarks>
[TestClass]
public sealed class PipelineBatchTests
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Batch_InputLasts_GivesWholeBatchesThenTheRestWhenTheSourceEnds(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var batches = new ConcurrentQueue<int[]>();
        harness.Add(source.Pipeline("p").Batch("batch", 3).Sink("collect", Collect(batches)));

        await harness.StartAsync();
        await source.WriteAsync(0, 1, 2, 3, 4, 5, 6);
        await source.CompleteAsync();
        await harness.WaitForEndAsync("p");

        AssertBatches(batches, [0, 1, 2], [3, 4, 5], [6]);
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [3]");

        // The batch stage, first of the pipeline, counts each item in: the end's log says 7 in.
        Assert.AreEqual(7L, harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineCompleted))["In"]);
    }

    [TestMethod]
    public async Task Batch_AfterAStage_CountsWhatArrivesAndLeavesOnTheLinks()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var batches = new ConcurrentQueue<int[]>();
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Transform("inc", x => x + 1)
            .Batch("batch", 2, MaxDelay)
            .Transform("copy", batch => batch.ToArray())
            .Sink("collect", Collect(batches)));

        await harness.StartAsync();
        for (int i = 0; i < 5; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        AssertBatches(batches, [1, 2], [3, 4], [5]);
        await harness.Health.WaitForAsync("pipeline-job-p/stage-batch", HealthLevel.Stopped, "Completed [out 5, failed 0]");
    }

    [TestMethod]
    public async Task Batch_FullWhileTheStageBeforeItKeepsOffering_CountsEachItemOnceInAndOut()
    {
        // A full block postpones an offer, and the stage before it offers the same item again each
        // time it has a new output: the counts on the links must not count an item twice.
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { BoundedCapacity = 1 })
            .Transform("inc", x => x + 1)
            .Batch("batch", 2)
            .Sink("collect", (int[] batch, CancellationToken token) => handler.UntilReleased(batch.Length, token)));

        await harness.StartAsync();
        for (int i = 0; i < 40; i++)
        {
            channel.Writer.TryWrite(i);
        }

        await handler.WaitForFirstAsync();
        handler.Release();
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        Assert.AreEqual(40, handler.FinishedItems.Sum());
        await harness.Health.WaitForAsync("pipeline-job-p/stage-batch", HealthLevel.Stopped, "Completed [out 40, failed 0]");
        await harness.Health.WaitForAsync("pipeline-job-p/stage-collect", HealthLevel.Stopped, "Completed [out 20, failed 0]");
    }

    [TestMethod]
    public async Task Batch_PartialBatch_LeavesMaxDelayAfterItsFirstItemArrived()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var batches = new BatchRecorder(harness.Time);
        harness.Add(Job.Pipeline("p", stream).Batch("batch", 3, MaxDelay).Sink("collect", batches.Sink));
        DateTimeOffset start = await StartAsync(harness);

        stream.Write(1);
        await stream.WaitForPullAsync(2);
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        stream.Write(2);
        await stream.WaitForPullAsync(3);

        // Item 1 arrived at 0 s: nothing may leave before 3 s, and the partial batch leaves then.
        harness.Time.Advance(MaxDelay - TimeSpan.FromSeconds(1) - Tick);
        Assert.AreEqual(0, harness.Time.CallbacksRun, "A timer fired before the first item had waited maxDelay.");
        harness.Time.Advance(Tick);

        (int[] batch, DateTimeOffset at) = await batches.NextAsync();
        CollectionAssert.AreEqual(new[] { 1, 2 }, batch);
        Assert.AreEqual(start + MaxDelay, at);
    }

    [TestMethod]
    [DataRow(SourceKind.Channel)]
    [DataRow(SourceKind.Observable)]
    public async Task Batch_FirstStageAfterAPushingOrPulledSource_PartialBatchLeavesAfterMaxDelay(SourceKind kind)
    {
        // An observable feeds the first stage through a buffer of its own: the batch must still
        // see each item arrive, or its delay would never start.
        await using var kit = new JobTestKit();
        var source = new TestSource(kind);
        var batches = new ConcurrentQueue<int[]>();
        kit.Add(source.Pipeline("p").Batch("batch", 10, MaxDelay).Sink("collect", (int[] batch, CancellationToken _) =>
        {
            batches.Enqueue(batch);
            return Task.CompletedTask;
        }));
        await kit.StartAsync();

        await source.WriteAsync(1, 2);
        await kit.AdvanceAsync(MaxDelay);

        Assert.HasCount(1, batches);
        CollectionAssert.AreEqual(new[] { 1, 2 }, batches.Single());
    }

    [TestMethod]
    public async Task Batch_OfBatches_GroupsTheFirstStagesBatchesAndCountsEachStagesOwnItems()
    {
        // The link between the two batch stages both counts what leaves the first and what
        // arrives in the second.
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int[][]>();
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Batch("pairs", 2)
            .Batch("pairs-of-pairs", 2)
            .Sink("collect", (int[][] batch, CancellationToken _) =>
            {
                sunk.Enqueue(batch);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        for (int i = 1; i <= 4; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        int[][] only = sunk.Single();
        CollectionAssert.AreEqual(new[] { 1, 2 }, only[0]);
        CollectionAssert.AreEqual(new[] { 3, 4 }, only[1]);
        await harness.Health.WaitForAsync("pipeline-job-p/stage-pairs", HealthLevel.Stopped, "Completed [out 4, failed 0]");
        await harness.Health.WaitForAsync("pipeline-job-p/stage-pairs-of-pairs", HealthLevel.Stopped, "Completed [out 2, failed 0]");
    }

    [TestMethod]
    public async Task Batch_ItemArrivesAfterAFullBatch_LeavesMaxDelayAfterItsOwnArrivalNotTheEarlierItems()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var batches = new BatchRecorder(harness.Time);
        harness.Add(Job.Pipeline("p", stream).Batch("batch", 3, MaxDelay).Sink("collect", batches.Sink));
        DateTimeOffset start = await StartAsync(harness);

        // A full batch at 0 s: item 1 armed the timer for 3 s, and the batch left at once.
        stream.Write(1, 2, 3);
        (int[] full, DateTimeOffset fullAt) = await batches.NextAsync();
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, full);
        Assert.AreEqual(start, fullAt);

        // Item 4 arrives at 2 s: it must not leave at 3 s, when the full batch's timer would have
        // fired, but at 5 s, maxDelay after its own arrival.
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        stream.Write(4);
        await stream.WaitForPullAsync(5);
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.AreEqual(0, harness.Time.CallbacksRun, "The timer armed by the full batch's first item fired for item 4.");
        harness.Time.Advance(TimeSpan.FromSeconds(2) - Tick);
        Assert.AreEqual(0, harness.Time.CallbacksRun, "Item 4 left before it had waited maxDelay.");
        harness.Time.Advance(Tick);

        (int[] partial, DateTimeOffset partialAt) = await batches.NextAsync();
        CollectionAssert.AreEqual(new[] { 4 }, partial);
        Assert.AreEqual(start + TimeSpan.FromSeconds(5), partialAt);
    }

    [TestMethod]
    public async Task Batch_ItemArrivesAfterATimedBatch_LeavesMaxDelayAfterItsOwnArrival()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var batches = new BatchRecorder(harness.Time);
        harness.Add(Job.Pipeline("p", stream).Batch("batch", 3, MaxDelay).Sink("collect", batches.Sink));
        DateTimeOffset start = await StartAsync(harness);

        stream.Write(1);
        await stream.WaitForPullAsync(2);
        harness.Time.Advance(MaxDelay);
        (int[] first, DateTimeOffset firstAt) = await batches.NextAsync();
        CollectionAssert.AreEqual(new[] { 1 }, first);
        Assert.AreEqual(start + MaxDelay, firstAt);

        // The timer is not periodic: item 2, at 4 s, leaves at 7 s, not at 6 s.
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        stream.Write(2);
        await stream.WaitForPullAsync(3);
        harness.Time.Advance(MaxDelay - Tick);
        Assert.AreEqual(1, harness.Time.CallbacksRun, "A timer fired before item 2 had waited maxDelay.");
        harness.Time.Advance(Tick);

        (int[] second, DateTimeOffset secondAt) = await batches.NextAsync();
        CollectionAssert.AreEqual(new[] { 2 }, second);
        Assert.AreEqual(start + TimeSpan.FromSeconds(7), secondAt);
    }

    [TestMethod]
    public async Task Batch_ItemArrivesWhileFullBatchesWaitForTheSink_IsNotCutShortByTheirTimer()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new ConcurrentQueue<int[]>();
        ObserverFunc<int[]> sink = async (batch, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            batches.Enqueue(batch);
        };
        harness.Add(Job.Pipeline("p", stream).Batch("batch", 2, MaxDelay).Sink("collect", sink, new StageOptions { BoundedCapacity = 1 }));
        await StartAsync(harness);

        // At 0 s four whole batches form; the sink holds the first and has room for one more, so
        // the others wait in the batch stage, their items armed the timer for 3 s.
        stream.Write(1, 2, 3, 4, 5, 6, 7, 8);
        await stream.WaitForPullAsync(9);
        await entered.OrTimeout();

        // Item 9 arrives at 2 s and item 10 at 4 s, within item 9's maxDelay: they make a whole
        // batch. A timer armed for the earlier batches must not cut item 9 off at 3 s.
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        stream.Write(9);
        await stream.WaitForPullAsync(10);
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        stream.Write(10);
        await stream.WaitForPullAsync(11);
        release.SetResult();
        stream.Complete();
        await harness.WaitForEndAsync("p");

        AssertBatches(batches, [1, 2], [3, 4], [5, 6], [7, 8], [9, 10]);
    }

    [TestMethod]
    public async Task Batch_PartialBatchWhileWholeBatchesWaitForTheSink_LeavesMaxDelayAfterItsOwnFirstItem()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var nine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new ConcurrentQueue<int[]>();
        ObserverFunc<int[]> sink = async (batch, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            batches.Enqueue(batch);
            if (batch.Contains(9))
            {
                nine.TrySetResult();
            }
        };
        harness.Add(Job.Pipeline("p", stream).Batch("batch", 2, MaxDelay).Sink("collect", sink, new StageOptions { BoundedCapacity = 1 }));
        await StartAsync(harness);

        // At 0 s four whole batches form; two wait in the batch stage, and the timer is armed for 3 s.
        stream.Write(1, 2, 3, 4, 5, 6, 7, 8);
        await stream.WaitForPullAsync(9);
        await entered.OrTimeout();

        // Item 9 arrives alone at 2 s. The timer fires at 3 s, too early for it, and is armed
        // again for the rest of its wait: at 5 s it has waited maxDelay, and leaves as a partial
        // batch once the sink makes room, with the source still open and the clock still.
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        stream.Write(9);
        await stream.WaitForPullAsync(10);
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        harness.Time.Advance(TimeSpan.FromSeconds(2));
        release.SetResult();
        await nine.OrTimeout();

        AssertBatches(batches, [1, 2], [3, 4], [5, 6], [7, 8], [9]);
        stream.Complete();
        await harness.WaitForEndAsync("p");
    }

    [TestMethod]
    public async Task Batch_NothingPending_NeverGivesAnEmptyBatch()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var batches = new BatchRecorder(harness.Time);
        harness.Add(Job.Pipeline("p", stream).Batch("batch", 2, MaxDelay).Sink("collect", batches.Sink));
        await StartAsync(harness);

        stream.Write(1, 2);
        CollectionAssert.AreEqual(new[] { 1, 2 }, (await batches.NextAsync()).Batch);

        // Nothing pending: the timer is disarmed, so moving the clock fires nothing.
        harness.Time.Advance(MaxDelay * 3);
        Assert.AreEqual(0, harness.Time.CallbacksRun);

        // A source that ends with nothing pending flushes nothing either.
        stream.Complete();
        await harness.WaitForEndAsync("p");
        Assert.AreEqual(1, batches.Count);
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [1]");
    }

    [TestMethod]
    public async Task Batch_SourceEndsWithoutItems_GivesNoBatch()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var batches = new ConcurrentQueue<int[]>();
        harness.Add(Job.Pipeline("p", channel.Reader).Batch("batch", 3, MaxDelay).Sink("collect", Collect(batches)));

        await harness.StartAsync();
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        Assert.IsEmpty(batches);
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [0]");
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public async Task Batch_CapacityBelowTheBatchSize_StillFormsWholeBatches(int capacity)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var batches = new ConcurrentQueue<int[]>();
        var twoBatches = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { BoundedCapacity = capacity })
            .Transform("same", x => x)
            .Batch("batch", 5)
            .Sink("collect", (batch, _) =>
            {
                batches.Enqueue(batch);
                if (batches.Count == 2)
                {
                    twoBatches.SetResult();
                }

                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        for (int i = 0; i < 10; i++)
        {
            channel.Writer.TryWrite(i);
        }

        // The source is still open, so only whole batches can leave: two of them.
        await twoBatches.OrTimeout();
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        AssertBatches(batches, [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]);
    }

    /// <summary>Starts the group and waits until the job's report timer is armed, after the batch timer: the clock may move from then on.</summary>
    private static async Task<DateTimeOffset> StartAsync(GroupHarness harness)
    {
        await harness.StartAsync();
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Ok, "Primed");
        await harness.Time.WaitForTimerAsync();
        await harness.Time.WaitForTimerAsync();
        return harness.Time.GetUtcNow();
    }

    private static ObserverFunc<int[]> Collect(ConcurrentQueue<int[]> batches) => (batch, _) =>
    {
        batches.Enqueue(batch);
        return Task.CompletedTask;
    };

    private static void AssertBatches(ConcurrentQueue<int[]> batches, params int[][] expected)
    {
        int[][] actual = [.. batches];
        Assert.HasCount(expected.Length, actual, string.Join(" ", actual.Select(b => "[" + string.Join(",", b) + "]")));
        for (int i = 0; i < expected.Length; i++)
        {
            CollectionAssert.AreEqual(expected[i], actual[i], $"batch {i}");
        }
    }

    /// <summary>A sink that records each batch with the fake clock's time when it arrived, and lets the test await them one by one.</summary>
    private sealed class BatchRecorder(TimeProvider time)
    {
        private readonly Channel<(int[] Batch, DateTimeOffset At)> _batches = Channel.CreateUnbounded<(int[], DateTimeOffset)>();
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public ObserverFunc<int[]> Sink => (batch, _) =>
        {
            Interlocked.Increment(ref _count);
            _batches.Writer.TryWrite((batch, time.GetUtcNow()));
            return Task.CompletedTask;
        };

        public Task<(int[] Batch, DateTimeOffset At)> NextAsync() => _batches.Reader.ReadAsync().AsTask().OrTimeout();
    }
}
