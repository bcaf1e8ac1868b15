using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-30 for pipelines: bad input throws at the call that received it, naming
/// the parameter; and a description is immutable, so it can be shared and branched.
/// </summary>
[TestClass]
public sealed class PipelineBadInputTests
{
    private static readonly ChannelReader<int> Reader = Channel.CreateUnbounded<int>().Reader;

    private static Pipeline<int> Start => Job.Pipeline("p", Reader);

    [TestMethod]
    public void Pipeline_NullSource_ThrowsNamingSource()
    {
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Pipeline("p", (ChannelReader<int>)null!)).ParamName);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Pipeline("p", (IAsyncEnumerable<int>)null!)).ParamName);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Pipeline("p", (ISourceBlock<int>)null!)).ParamName);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Pipeline("p", (IObservable<int>)null!)).ParamName);
    }

    [TestMethod]
    public void Pipeline_NullOrEmptyName_ThrowsNamingName()
    {
        Assert.AreEqual("name", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Pipeline(null!, Reader)).ParamName);
        Assert.AreEqual("name", Assert.ThrowsExactly<ArgumentException>(() => Job.Pipeline(string.Empty, Reader)).ParamName);
        Assert.AreEqual("name", Assert.ThrowsExactly<ArgumentException>(() => Job.Pipeline(string.Empty, new TestObservable<int>())).ParamName);
    }

    [TestMethod]
    public void Stages_NullFunction_ThrowNamingIt()
    {
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Start.Transform("t", (Func<int, int>)null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Start.Transform("t", (Func<int, CancellationToken, Task<int>>)null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Start.TransformMany("t", (Func<int, IEnumerable<int>>)null!)).ParamName);
        Assert.AreEqual("predicate", Assert.ThrowsExactly<ArgumentNullException>(() => Start.Where("t", null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Start.Sink("t", null!)).ParamName);
    }

    [TestMethod]
    public void Stages_NullOrEmptyStageName_ThrowNamingStage()
    {
        Action<string>[] stages =
        [
            stage => Start.Transform(stage, x => x),
            stage => Start.Transform(stage, (int x, CancellationToken _) => Task.FromResult(x)),
            stage => Start.TransformMany(stage, x => new[] { x }),
            stage => Start.Where(stage, _ => true),
            stage => Start.Batch(stage, 2),
            stage => Start.Sink(stage, (_, _) => Task.CompletedTask),
        ];

        for (int i = 0; i < stages.Length; i++)
        {
            Action<string> add = stages[i];
            Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentNullException>(() => add(null!)).ParamName, $"stage kind {i}");
            Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentException>(() => add(string.Empty)).ParamName, $"stage kind {i}");
        }
    }

    [TestMethod]
    public void Stages_DuplicateStageName_ThrowsNamingStage()
    {
        Pipeline<int> parsed = Start.Transform("parse", x => x);

        Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentException>(() => parsed.Transform("parse", x => x)).ParamName);
        Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentException>(() => parsed.Where("parse", _ => true)).ParamName);
        Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentException>(() => parsed.TransformMany("parse", x => new[] { x })).ParamName);
        Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentException>(() => parsed.Batch("parse", 2)).ParamName);
        Assert.AreEqual("stage", Assert.ThrowsExactly<ArgumentException>(() => parsed.Where("keep", _ => true).Sink("parse", (_, _) => Task.CompletedTask)).ParamName);
    }

    [TestMethod]
    public void Stages_DuplicateStageName_SaysWhichNameIsTaken()
    {
        Pipeline<int> parsed = Start.Transform("parse", x => x);

        ArgumentException error = Assert.ThrowsExactly<ArgumentException>(() => parsed.Transform("parse", x => x));

        StringAssert.StartsWith(error.Message, "The pipeline has a stage named parse already; stage names must be unique within one pipeline.");
    }

    [TestMethod]
    public void Batch_BadSizeOrDelay_ThrowsNamingIt()
    {
        Assert.AreEqual("size", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", 0)).ParamName);
        Assert.AreEqual("size", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", -1)).ParamName);
        Assert.AreEqual("size", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", int.MinValue)).ParamName);
        Assert.AreEqual("size", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", 1_000_001)).ParamName);
        Assert.AreEqual("size", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", int.MaxValue)).ParamName);
        Assert.AreEqual("maxDelay", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", 2, TimeSpan.FromTicks(-1))).ParamName);
        Assert.AreEqual("maxDelay", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", 2, TimeSpan.MaxValue)).ParamName);
        Assert.AreEqual("maxDelay", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Start.Batch("b", 2, TimeSpan.FromDays(50))).ParamName);
    }

    [TestMethod]
    public void Batch_LimitsOfTheArguments_AreAccepted()
    {
        Assert.IsNotNull(Start.Batch("one", 1));
        Assert.IsNotNull(Start.Batch("largest", 1_000_000));
        Assert.IsNotNull(Start.Batch("longest", 2, TimeSpan.FromMilliseconds(uint.MaxValue - 1)));
        Assert.IsNotNull(Start.Batch("none", 2, TimeSpan.Zero));
    }

    [TestMethod]
    [DataRow(nameof(StageOptions.MaxDegreeOfParallelism), 0)]
    [DataRow(nameof(StageOptions.MaxDegreeOfParallelism), -2)]
    [DataRow(nameof(StageOptions.MaxDegreeOfParallelism), int.MinValue)]
    [DataRow(nameof(StageOptions.BoundedCapacity), 0)]
    [DataRow(nameof(StageOptions.BoundedCapacity), -2)]
    [DataRow(nameof(StageOptions.BoundedCapacity), int.MinValue)]
    [DataRow(nameof(StageOptions.Retries), -2)]
    [DataRow(nameof(StageOptions.Retries), int.MinValue)]
    public void StageOptions_OutOfRange_ThrowsNamingIt(string property, int value)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => property switch
        {
            nameof(StageOptions.MaxDegreeOfParallelism) => new StageOptions { MaxDegreeOfParallelism = value },
            nameof(StageOptions.BoundedCapacity) => new StageOptions { BoundedCapacity = value },
            _ => new StageOptions { Retries = value },
        });
        Assert.AreEqual(property, ex.ParamName);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-2)]
    [DataRow(int.MinValue)]
    public void PipelineOptions_CapacityOutOfRange_ThrowsNamingIt(int value)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PipelineOptions { BoundedCapacity = value });
        Assert.AreEqual(nameof(PipelineOptions.BoundedCapacity), ex.ParamName);
    }

    [TestMethod]
    public void Options_Default_AreBoundedSequentialOrderedWithoutRetries()
    {
        var stage = new StageOptions();
        var pipeline = new PipelineOptions();

        Assert.AreEqual(1, stage.MaxDegreeOfParallelism);
        Assert.IsTrue(stage.EnsureOrdered);
        Assert.IsNull(stage.BoundedCapacity);
        Assert.AreEqual(0, stage.Retries);
        Assert.IsNull(stage.Backoff);
        Assert.AreEqual(64, pipeline.BoundedCapacity);
        Assert.IsFalse(pipeline.DrainOnStop);
        Assert.IsFalse(pipeline.ShutdownOnError);
        Assert.IsFalse(pipeline.ShutdownWhenComplete);
        Assert.IsNull(pipeline.DeadLetter);
    }

    [TestMethod]
    public void Options_MinusOne_MeansUnboundedOrForever()
    {
        var stage = new StageOptions { MaxDegreeOfParallelism = -1, BoundedCapacity = -1, Retries = -1 };
        var pipeline = new PipelineOptions { BoundedCapacity = -1 };

        Assert.AreEqual(-1, stage.MaxDegreeOfParallelism);
        Assert.AreEqual(-1, stage.BoundedCapacity);
        Assert.AreEqual(-1, stage.Retries);
        Assert.AreEqual(-1, pipeline.BoundedCapacity);
    }

    [TestMethod]
    public async Task Pipeline_StageAddedToADescription_LeavesTheDescriptionUnchanged()
    {
        Pipeline<int> start = Job.Pipeline("p", Items(1, 2, 3)).Transform("double", x => x * 2);

        // Adding "drop-all" returns a new description: the one it was added to has no such stage,
        // so the name is still free there, and a job made from it keeps every item.
        Assert.IsNotNull(start.Where("drop-all", _ => false));
        Assert.IsNotNull(start.Where("drop-all", _ => false));
        var sunk = new ConcurrentQueue<int>();
        Job job = start.Transform("inc", x => x + 1).Sink("collect", (item, _) =>
        {
            sunk.Enqueue(item);
            return Task.CompletedTask;
        });

        await using var harness = new GroupHarness();
        harness.Add(job);
        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 3, 5, 7 }, sunk.ToArray());
        string[] stages = [.. harness.Health.Reports.Select(r => r.Path).Where(p => p.Contains("/stage-", StringComparison.Ordinal)).Distinct()];
        CollectionAssert.AreEquivalent(new[] { "pipeline-job-p/stage-double", "pipeline-job-p/stage-inc", "pipeline-job-p/stage-collect" }, stages);
    }

    [TestMethod]
    public async Task Pipeline_TwoBranchesOfOneDescription_RunIndependently()
    {
        Pipeline<int> shared = Job.Pipeline("p", Items(1, 2, 3, 4)).Transform("tag", x => x * 10);
        var evens = new ConcurrentQueue<int>();
        var all = new ConcurrentQueue<string>();
        Job first = shared.Where("filter", x => x % 20 == 0).Sink("collect", (item, _) =>
        {
            evens.Enqueue(item);
            return Task.CompletedTask;
        });
        Job second = shared.Transform("filter", x => "#" + x).Sink("collect", (item, _) =>
        {
            all.Enqueue(item);
            return Task.CompletedTask;
        });

        await using (var harness = new GroupHarness())
        {
            harness.Add(first);
            await harness.StartAsync();
            await harness.WaitForEndAsync("p");
        }

        await using (var harness = new GroupHarness())
        {
            harness.Add(second);
            await harness.StartAsync();
            await harness.WaitForEndAsync("p");
        }

        CollectionAssert.AreEqual(new[] { 20, 40 }, evens.ToArray());
        CollectionAssert.AreEqual(new[] { "#10", "#20", "#30", "#40" }, all.ToArray());
    }

    /// <summary>A stream of the given items; each enumeration starts afresh.</summary>
    private static async IAsyncEnumerable<int> Items(params int[] items)
    {
        foreach (int item in items)
        {
            await Task.Yield();
            yield return item;
        }
    }
}
