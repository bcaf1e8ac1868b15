using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>docs/behaviour.md#rule-31: every item goes through the stages in order; parallel stages keep input order unless told not to.</summary>
[TestClass]
public sealed class PipelineStagesTests
{
    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Run_SourceOfEachKind_EveryItemGoesThroughEveryStageInOrder(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var sunk = new ConcurrentQueue<string>();
        harness.Add(source.Pipeline("p")
            .Transform("double", x => x * 2)
            .TransformMany("split", x => x % 4 == 0 ? [] : new[] { x, x + 1 })
            .Where("odd", x => x % 2 == 1)
            .Transform("text", x => "#" + x)
            .Sink("collect", (item, _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5);
        await source.CompleteAsync();
        await harness.WaitForEndAsync("p");

        // 1 -> 2 -> [2, 3] -> 3; 2 -> 4 -> []; 3 -> 6 -> [6, 7] -> 7; 4 -> 8 -> []; 5 -> 10 -> [10, 11] -> 11.
        CollectionAssert.AreEqual(new[] { "#3", "#7", "#11" }, sunk.ToArray());
    }

    [TestMethod]
    public async Task Transform_AsyncFunction_MapsEveryItemWithTheStagesToken()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var tokens = new ConcurrentQueue<CancellationToken>();
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Transform("square", async (int x, CancellationToken token) =>
            {
                tokens.Enqueue(token);
                await Task.Yield();
                return x * x;
            })
            .Sink("collect", (item, _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 4, 9 }, sunk.ToArray());
        Assert.IsTrue(tokens.All(t => t.CanBeCanceled && !t.IsCancellationRequested), "The stage's function gets the group's live token.");
    }

    [TestMethod]
    public async Task TransformMany_EnumerableThrowsHalfway_NoneOfItsOutputsGoesOn()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", channel.Reader)
            .TransformMany("expand", Expand)
            .Sink("collect", (item, _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        // Item 2 fails while its sequence is enumerated: what it yielded before the throw never leaves.
        CollectionAssert.AreEqual(new[] { 10, 11, 30, 31 }, sunk.ToArray());
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [4]");

        static IEnumerable<int> Expand(int x)
        {
            yield return x * 10;
            if (x == 2)
            {
                throw new FormatException("bad record");
            }

            yield return (x * 10) + 1;
        }
    }

    [TestMethod]
    public async Task Transform_ParallelismFour_RunsFourAtOnceAndOutputsInInputOrder()
    {
        const int Items = 8;
        const int Parallelism = 4;
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var gates = Enumerable.Range(0, Items).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var entered = new SemaphoreSlim(0);
        var sunk = new ConcurrentQueue<int>();
        int inside = 0;
        int maxInside = 0;
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Transform(
                "slow",
                async (int x, CancellationToken _) =>
                {
                    Atomic.Max(ref maxInside, Interlocked.Increment(ref inside));
                    entered.Release();
                    await gates[x].Task;
                    Interlocked.Decrement(ref inside);
                    return x;
                },
                new StageOptions { MaxDegreeOfParallelism = Parallelism })
            .Sink("collect", (item, _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        for (int i = 0; i < Items; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();

        // Four at once; each group of four is let go last item first, yet they leave in input order.
        for (int group = 0; group < Items / Parallelism; group++)
        {
            for (int i = 0; i < Parallelism; i++)
            {
                await entered.WaitOrTimeout();
            }

            Assert.AreEqual(Parallelism, Volatile.Read(ref inside), $"group {group}");
            for (int i = Parallelism - 1; i >= 0; i--)
            {
                gates[(group * Parallelism) + i].SetResult();
            }
        }

        await harness.WaitForEndAsync("p");
        Assert.AreEqual(Parallelism, maxInside);
        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToArray(), sunk.ToArray());
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public async Task Stages_ParallelismAboveTheCapacity_StillRunThatManyItemsAtOnce(int capacity)
    {
        const int Parallelism = 4;
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var transformFull = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sinkFull = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inTransform = 0;
        int inSink = 0;
        var parallel = new StageOptions { MaxDegreeOfParallelism = Parallelism };
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { BoundedCapacity = capacity })
            .Transform(
                "slow",
                async (int x, CancellationToken _) =>
                {
                    if (Interlocked.Increment(ref inTransform) == Parallelism)
                    {
                        transformFull.SetResult();
                    }

                    // Capacity counts the items waiting, not those the stage works on: without
                    // room for four at once, this never completes.
                    await transformFull.OrTimeout();
                    return x;
                },
                parallel)
            .Sink(
                "store",
                async (_, _) =>
                {
                    if (Interlocked.Increment(ref inSink) == Parallelism)
                    {
                        sinkFull.SetResult();
                    }

                    await sinkFull.OrTimeout();
                },
                parallel));

        await harness.StartAsync();
        for (int i = 0; i < 2 * Parallelism; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, $"Completed [{2 * Parallelism}]");
    }

    [TestMethod]
    [DataRow("where", true)]
    [DataRow("where", false)]
    [DataRow("many", true)]
    [DataRow("many", false)]
    [DataRow("transform-sync", true)]
    [DataRow("transform-sync", false)]
    [DataRow("transform-async", true)]
    [DataRow("transform-async", false)]
    public async Task Stages_ParallelismTwo_RunTwoAtOnceAndKeepInputOrderOnlyWhenAsked(string kind, bool ensureOrdered)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var gates = Enumerable.Range(0, 2).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var entered = new SemaphoreSlim(0);
        var firstSunk = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sunk = new ConcurrentQueue<int>();
        var options = new StageOptions { MaxDegreeOfParallelism = 2, EnsureOrdered = ensureOrdered };
        void Hold(int x)
        {
            entered.Release();
            gates[x].Task.Wait(Waits.Timeout);
        }

        Pipeline<int> start = Job.Pipeline("p", channel.Reader);
        Pipeline<int> slow = kind switch
        {
            "where" => start.Where(
                "slow",
                x =>
                {
                    Hold(x);
                    return true;
                },
                options),
            "many" => start.TransformMany(
                "slow",
                x =>
                {
                    Hold(x);
                    return new[] { x };
                },
                options),
            "transform-sync" => start.Transform(
                "slow",
                x =>
                {
                    Hold(x);
                    return x;
                },
                options),
            _ => start.Transform(
                "slow",
                async (int x, CancellationToken _) =>
                {
                    entered.Release();
                    await gates[x].Task;
                    return x;
                },
                options),
        };
        harness.Add(slow.Sink("collect", (item, _) =>
        {
            sunk.Enqueue(item);
            firstSunk.TrySetResult(item);
            return Task.CompletedTask;
        }));

        await harness.StartAsync();
        channel.Writer.TryWrite(0);
        channel.Writer.TryWrite(1);
        channel.Writer.Complete();

        // Both run at once (with one at a time, the second never enters); item 1 finishes first.
        await entered.WaitOrTimeout();
        await entered.WaitOrTimeout();
        gates[1].SetResult();
        if (!ensureOrdered)
        {
            Assert.AreEqual(1, await firstSunk.OrTimeout(), "Unordered, item 1 leaves while item 0 still runs.");
        }

        gates[0].SetResult();
        await harness.WaitForEndAsync("p");
        CollectionAssert.AreEqual(ensureOrdered ? new[] { 0, 1 } : new[] { 1, 0 }, sunk.ToArray());
    }

    [TestMethod]
    public async Task Sink_DefaultOptions_HandlesOneItemAtATime()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var gates = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var entered = new SemaphoreSlim(0);
        var order = new ConcurrentQueue<int>();
        int inside = 0;
        harness.Add(Job.Pipeline("p", channel.Reader).Sink("collect", async (item, _) =>
        {
            Interlocked.Increment(ref inside);
            order.Enqueue(item);
            entered.Release();
            await gates[item].Task;
            Interlocked.Decrement(ref inside);
        }));

        await harness.StartAsync();
        for (int i = 0; i < gates.Length; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        for (int i = 0; i < gates.Length; i++)
        {
            await entered.WaitOrTimeout();
            Assert.AreEqual(1, Volatile.Read(ref inside), $"item {i}");
            gates[i].SetResult();
        }

        await harness.WaitForEndAsync("p");
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, order.ToArray());
    }

    [TestMethod]
    public async Task Sink_ParallelismTwo_RunsTwoItemsAtOnce()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var bothInside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inside = 0;
        harness.Add(Job.Pipeline("p", channel.Reader).Sink(
            "collect",
            async (_, _) =>
            {
                if (Interlocked.Increment(ref inside) == 2)
                {
                    bothInside.SetResult();
                }

                // With one item at a time the second never enters, and this times out.
                await bothInside.OrTimeout();
            },
            new StageOptions { MaxDegreeOfParallelism = 2 }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);

        await bothInside.OrTimeout();
    }

    [TestMethod]
    public void Pipeline_Created_HasPipelineHealthScope()
    {
        Job job = Job.Pipeline("a b", Channel.CreateUnbounded<int>().Reader).Sink("s", (_, _) => Task.CompletedTask);

        Assert.AreEqual("pipeline-job-" + job.Name, job.HealthScopeName);
        Assert.AreNotEqual("a b", job.Name);
    }
}
