using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-35 and #rule-38: whichever path a stage takes with an item (a synchronous
/// function, an asynchronous one, a retry), the stage counts the item in once and its outputs out
/// once: the end's log, the job's <c>Completed [N]</c> and each stage's <c>Completed [out N, failed M]</c>
/// add up to what the user's functions saw and gave.
/// </summary>
[TestClass]
public sealed class PipelineStageCountsTests
{
    private const string Scope = "pipeline-job-p";

    public static IEnumerable<object[]> Kinds =>
        new[] { "transform", "transform-retries", "transform-async", "many", "many-retries", "sink", "sink-async" }.Select(kind => new object[] { kind });

    public static IEnumerable<object[]> RetryingKinds =>
        new[] { "transform-retries", "transform-async", "many-retries", "sink", "sink-async" }.Select(kind => new object[] { kind });

    [TestMethod]
    [DynamicData(nameof(Kinds))]
    public async Task Stage_FirstOfThePipeline_CountsEveryItemInAndEveryOutputOut(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Build(kind, channel.Reader, _ => false, sunk, retries: kind.EndsWith("-retries", StringComparison.Ordinal) ? 2 : 0));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        int outputs = kind.StartsWith("many", StringComparison.Ordinal) ? 6 : 3;
        Assert.HasCount(outputs, sunk);
        AssertCounts(harness, @in: 3, stageOut: outputs, sunk: outputs);
    }

    [TestMethod]
    [DynamicData(nameof(RetryingKinds))]
    public async Task Stage_FirstAttemptOfEvenItemsFails_RetriedItemsAreCountedOutOnce(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        var failedOnce = new ConcurrentDictionary<int, bool>();
        harness.Add(Build(kind, channel.Reader, x => x % 2 == 0 && failedOnce.TryAdd(x, true), sunk, retries: 2));

        await harness.StartAsync();
        for (int i = 1; i <= 4; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        int[] expected = kind.StartsWith("many", StringComparison.Ordinal) ? [10, 11, 20, 21, 30, 31, 40, 41] : [1, 2, 3, 4];
        CollectionAssert.AreEquivalent(expected, sunk.ToArray());
        CollectionAssert.AreEquivalent(new[] { 2, 4 }, failedOnce.Keys.ToArray());
        AssertCounts(harness, @in: 4, stageOut: expected.Length, sunk: expected.Length);
        Assert.AreEqual(2, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.PipelineItemRetrying)));
    }

    [TestMethod]
    [DataRow("transform-retries")]
    [DataRow("many-retries")]
    public async Task Stage_ItemFailsEveryRetry_FailsForGoodAndTheItemsAfterItGoOn(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Build(kind, channel.Reader, x => x == 2, sunk, retries: 1));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        int[] expected = kind.StartsWith("many", StringComparison.Ordinal) ? [10, 11, 30, 31] : [1, 3];
        CollectionAssert.AreEqual(expected, sunk.ToArray());
        Assert.AreEqual($"Completed [out {expected.Length}, failed 1]", LastMessage(harness, Scope + "/stage-first"));
        Assert.AreEqual($"Completed [{expected.Length}]", LastMessage(harness, Scope));
    }

    [TestMethod]
    public async Task Stage_ParallelFirstStage_CountsEveryItemIn()
    {
        const int Items = 2_000;
        await using var harness = new GroupHarness();
        harness.Add(Job.Pipeline("p", Enumerable.Range(0, Items).ToAsyncEnumerable())
            .Transform("first", x => x, new StageOptions { MaxDegreeOfParallelism = 4, EnsureOrdered = false })
            .Sink("store", (_, _) => Task.CompletedTask, new StageOptions { MaxDegreeOfParallelism = 4 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        LogEntry completed = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineCompleted));
        Assert.AreEqual((long)Items, completed["In"]);
        Assert.AreEqual((long)Items, completed["Out"]);
        Assert.AreEqual($"Completed [out {Items}, failed 0]", LastMessage(harness, Scope + "/stage-first"));
        Assert.AreEqual($"Completed [out {Items}, failed 0]", LastMessage(harness, Scope + "/stage-store"));
    }

    private static void AssertCounts(GroupHarness harness, long @in, long stageOut, long sunk)
    {
        LogEntry completed = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineCompleted));
        Assert.AreEqual(@in, completed["In"]);
        Assert.AreEqual(sunk, completed["Out"]);
        Assert.AreEqual(0L, completed["Failed"]);
        Assert.AreEqual($"Completed [out {stageOut}, failed 0]", LastMessage(harness, Scope + "/stage-first"));
        Assert.AreEqual($"Completed [{sunk}]", LastMessage(harness, Scope));
    }

    private static string LastMessage(GroupHarness harness, string path) => harness.Health.Reports.Last(r => r.Path == path && !r.Closed).Message;

    /// <summary>
    /// A pipeline whose first stage, named <c>first</c>, is of the given kind; <paramref name="fails"/>
    /// runs for each attempt at an item and tells whether it throws. A TransformMany stage maps x to
    /// x * 10 and x * 10 + 1. What reaches the end goes to <paramref name="sunk"/>.
    /// </summary>
    private static Job Build(string kind, ChannelReader<int> reader, Func<int, bool> fails, ConcurrentQueue<int> sunk, int retries)
    {
        Pipeline<int> pipeline = Job.Pipeline("p", reader);
        var stageOptions = new StageOptions { Retries = retries };
        ObserverFunc<int> collect = (item, _) =>
        {
            sunk.Enqueue(item);
            return Task.CompletedTask;
        };

        return kind switch
        {
            "transform" or "transform-retries" => pipeline.Transform("first", x => fails(x) ? throw new FormatException("bad") : x, stageOptions).Sink("collect", collect),
            "transform-async" => pipeline.Transform(
                "first",
                async (int x, CancellationToken _) =>
                {
                    await Task.Yield();
                    return fails(x) ? throw new FormatException("bad") : x;
                },
                stageOptions).Sink("collect", collect),
            "many" or "many-retries" => pipeline.TransformMany("first", x => fails(x) ? throw new FormatException("bad") : new[] { x * 10, (x * 10) + 1 }, stageOptions).Sink("collect", collect),
            "sink" => pipeline.Sink(
                "first",
                (x, _) =>
                {
                    if (fails(x))
                    {
                        throw new FormatException("bad");
                    }

                    sunk.Enqueue(x);
                    return Task.CompletedTask;
                },
                stageOptions),
            "sink-async" => pipeline.Sink(
                "first",
                async (x, _) =>
                {
                    await Task.Yield();
                    if (fails(x))
                    {
                        throw new FormatException("bad");
                    }

                    sunk.Enqueue(x);
                },
                stageOptions),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown kind of stage"),
        };
    }
}
