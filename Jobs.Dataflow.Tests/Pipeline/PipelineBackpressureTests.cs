using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-32: every stage is bounded, so a slow sink pauses the stages before it
/// and the source: the job never takes more than the stages can hold, whatever the input's size.
/// </summary>
[TestClass]
public sealed class PipelineBackpressureTests
{
    private const int Items = 200;
    private const int Capacity = 2;

    // Three stages, each with Capacity items waiting and one it works on, plus the item a pump
    // holds while the first stage is full.
    private const int Held = (3 * (Capacity + 1)) + 1;

    [TestMethod]
    [DataRow("transform")]
    [DataRow("batch")]
    public async Task Run_UnboundedStageBeforeASlowSink_TakesEveryItemWhateverThePipelinesCapacity(string kind)
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int handled = 0;
        ObserverFunc<int> sink = async (_, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            Interlocked.Increment(ref handled);
        };

        // The Transform stage's own capacity overrides the pipeline's 1; a Batch stage takes the
        // pipeline's, here unbounded. Only the sink, of capacity 1, is bounded.
        var sinkOptions = new StageOptions { BoundedCapacity = 1 };
        Job job = kind == "transform"
            ? Job.Pipeline("p", stream, new PipelineOptions { BoundedCapacity = 1 })
                .Transform("same", x => x, new StageOptions { BoundedCapacity = DataflowBlockOptions.Unbounded })
                .Sink("collect", sink, sinkOptions)
            : Job.Pipeline("p", stream, new PipelineOptions { BoundedCapacity = DataflowBlockOptions.Unbounded })
                .Batch("pairs", 2)
                .Sink("collect", (batch, token) => sink(batch[0], token), sinkOptions);
        harness.Add(job);

        await harness.StartAsync();
        stream.Write([.. Enumerable.Range(0, 40)]);
        await entered.OrTimeout();

        // The sink holds its first item, yet the unbounded stage takes every item behind it.
        await stream.WaitForPullAsync(41);
        release.SetResult();
        stream.Complete();
        await harness.WaitForEndAsync("p");
        Assert.AreEqual(kind == "transform" ? 40 : 20, handled);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task Run_SlowSinkWithSmallCapacities_PullsTheSourceOnlyTheStagesCapacitiesAhead(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new PulledItems(Items);
        var entered = new SemaphoreSlim(0);
        var gate = new SemaphoreSlim(0);
        int handled = 0;
        int maxLead = 0;
        var options = new PipelineOptions { BoundedCapacity = Capacity };
        Pipeline<int> pipeline = kind == SourceKind.Channel ? Job.Pipeline("p", source.AsChannel(), options) : Job.Pipeline("p", source, options);
        harness.Add(pipeline
            .Transform("same", x => x)
            .Where("all", _ => true)
            .Sink("collect", async (_, _) =>
            {
                entered.Release();
                await gate.WaitAsync();
                Atomic.Max(ref maxLead, source.Pulled - Interlocked.Increment(ref handled));
            }));

        await harness.StartAsync();
        for (int i = 0; i < Items; i++)
        {
            // The sink holds item i: the pipeline fills up behind it, and no further.
            await entered.WaitOrTimeout();
            await source.WaitForPulledAsync(Math.Min(i + Held, Items));
            Assert.IsLessThanOrEqualTo(i + Held + 1, source.Pulled, $"item {i}: the source was pulled past what the stages hold");
            gate.Release();
        }

        await harness.WaitForEndAsync("p");
        Assert.AreEqual(Items, handled);
        Assert.IsLessThanOrEqualTo(Held + 1, maxLead);
    }

    [TestMethod]
    public async Task Run_BlockSourceWithSlowSink_LeavesTheRestInTheSource()
    {
        await using var harness = new GroupHarness();
        var source = new BufferBlock<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Pipeline("p", source, new PipelineOptions { BoundedCapacity = Capacity })
            .Transform("same", x => x)
            .Where("all", _ => true)
            .Sink("collect", handler.UntilReleased));

        await harness.StartAsync();
        for (int i = 0; i < Items; i++)
        {
            Assert.IsTrue(source.Post(i));
        }

        await handler.WaitForFirstAsync();

        // The stages take from the block only while they have room; the rest stays in it.
        Assert.IsGreaterThanOrEqualTo(Items - Held, source.Count);
        handler.Release();
        source.Complete();
        await harness.WaitForEndAsync("p");
        Assert.HasCount(Items, handler.Finished);
    }

    [TestMethod]
    public async Task OnNext_PipelineFull_BlocksUntilTheSinkMakesRoom()
    {
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Pipeline("p", observable, new PipelineOptions { BoundedCapacity = 1 })
            .Transform("same", x => x)
            .Sink("collect", handler.UntilReleased));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();
        int returned = 0;
        Task pusher = Task.Factory.StartNew(
            () =>
            {
                for (int i = 1; i <= 20; i++)
                {
                    observer.OnNext(i);
                    Interlocked.Increment(ref returned);
                }

                observer.OnCompleted();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        try
        {
            await handler.WaitForFirstAsync();

            // Each stage's block holds its capacity plus the item it works on: two in the sink (one
            // in the handler), two in the transform, and one in the buffer in front. The next push
            // blocks until the sink makes room, however many the observable has.
            Assert.IsFalse(pusher.IsCompleted, "The pushes must block while the pipeline is full.");
            Assert.IsLessThanOrEqualTo(5, Volatile.Read(ref returned));
        }
        finally
        {
            // Also when an assertion failed: a sink held forever would hang the harness's stop and hide it.
            handler.Release();
        }

        await pusher.OrTimeout();
        await harness.WaitForEndAsync("p");
        CollectionAssert.AreEqual(Enumerable.Range(1, 20).ToArray(), handler.FinishedItems);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable, "sink")]
    [DataRow(SourceKind.Channel, "sink")]
    [DataRow(SourceKind.AsyncEnumerable, "transform")]
    [DataRow(SourceKind.Channel, "transform-sync")]
    [DataRow(SourceKind.Channel, "many")]
    public async Task Run_FirstStageSlowerThanTheSource_PullsAgainOnlyOnceItsBlockDrainedByHalf(SourceKind kind, string first)
    {
        // A first block of 9 (the capacity and the item its function works on): the pump that found
        // it full waits until the function started 4 more items, not for the first free slot.
        const int StageCapacity = 8;
        const int Block = StageCapacity + 1;
        await using var harness = new GroupHarness();
        var pulls = new PulledItems(1_000);
        var started = new SemaphoreSlim(0);
        var finish = new SemaphoreSlim(0);
        Func<int, CancellationToken, Task<int>> slow = async (x, _) =>
        {
            started.Release();
            await finish.WaitAsync();
            return x;
        };
        Pipeline<int> pipeline = kind == SourceKind.Channel
            ? Job.Pipeline("p", pulls.AsChannel(), new PipelineOptions { BoundedCapacity = StageCapacity })
            : Job.Pipeline("p", pulls, new PipelineOptions { BoundedCapacity = StageCapacity });
        harness.Add(first switch
        {
            "sink" => pipeline.Sink("slow", (x, token) => slow(x, token)),
            "transform" => pipeline.Transform("slow", slow).Sink("fast", (_, _) => Task.CompletedTask),
            "transform-sync" => pipeline.Transform("slow", x =>
            {
                started.Release();
                finish.Wait(Waits.Timeout);
                return x;
            }).Sink("fast", (_, _) => Task.CompletedTask),
            _ => pipeline.TransformMany("slow", x =>
            {
                started.Release();
                finish.Wait(Waits.Timeout);
                return new[] { x };
            }).Sink("fast", (_, _) => Task.CompletedTask),
        });

        await harness.StartAsync();
        int pulledWhileDraining = await pulls.PulledWhileTheBlockDrainsAsync(started, finish, Block, harness.Logs);

        Assert.AreEqual(Block + 1, pulledWhileDraining, "The pump took another item before the first stage's block drained by half.");
    }

    [TestMethod]
    public async Task Run_FirstStageRetriesWhileThePumpWaitsForItToDrain_EveryItemArrivesCountedInOnce()
    {
        const int Count = 300;
        await using var harness = new GroupHarness();
        var pulls = new PulledItems(Count);
        var failedOnce = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        var sunk = new System.Collections.Concurrent.ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", pulls, new PipelineOptions { BoundedCapacity = 8 })
            .Transform("flaky", x => x % 3 == 0 && failedOnce.TryAdd(x, true) ? throw new IOException("once") : x, new StageOptions { Retries = 1 })
            .Sink("collect", (x, _) =>
            {
                sunk.Enqueue(x);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEquivalent(Enumerable.Range(0, Count).ToArray(), sunk.ToArray());
        Assert.AreEqual(100, failedOnce.Count);
        Assert.AreEqual((long)Count, harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineCompleted))["In"]);
    }
}
