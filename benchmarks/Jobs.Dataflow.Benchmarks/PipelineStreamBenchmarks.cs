using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 1,000,000 ints from an <see cref="IAsyncEnumerable{T}"/> (an iterator that never waits) through
/// a pipeline job with default options: a sink alone, and a Transform then a sink. The baseline is
/// what a user would wire by hand for the same backpressure: an <c>await foreach</c> that sends
/// each item into the first of the same blocks, bounded like the pipeline's (65), and waits for
/// room when it is full.
/// </summary>
/// <remarks>
/// The source is faster than the first stage whenever that stage is the sink, so the pump finds
/// the first block full again and again: this measures how it waits for room. Thirty warm-up and
/// thirty measured iterations, as for the stream-fed observer: pinned, an iteration of the sink
/// row sometimes takes the slow hand-off (150–220 ms instead of 125–130), and with twenty the
/// number of slow ones a process drew moved the job's mean by more than 15 %.
/// </remarks>
[InvocationCount(1)]
[WarmupCount(30)]
[IterationCount(30)]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class PipelineStreamBenchmarks : PipelineBenchmarkBase
{
    private static readonly Func<int, int> AddOne = x => x + 1;

    [BenchmarkCategory("Sink")]
    [Benchmark(Baseline = true, Description = "await foreach iterator -> SendAsync -> ActionBlock(65)")]
    public async Task SinkPumpedByHand()
    {
        var sink = new ActionBlock<int>(item => Handler(item, CancellationToken.None), new ExecutionDataflowBlockOptions { BoundedCapacity = StageBound });
        await PumpAsync(sink);
        await sink.Completion;
    }

    [BenchmarkCategory("Sink")]
    [Benchmark(Description = "Pipeline job (IAsyncEnumerable): Sink")]
    public async Task SinkPipeline()
    {
        Job job = Job.Pipeline("sink", RangeAsync(Items)).Sink("count", Handler);
        Group.Add(job);
        await job.Completion;
    }

    [BenchmarkCategory("TransformSink")]
    [Benchmark(Baseline = true, Description = "await foreach iterator -> SendAsync -> TransformBlock(65) -> ActionBlock(65)")]
    public async Task TransformSinkPumpedByHand()
    {
        var options = new ExecutionDataflowBlockOptions { BoundedCapacity = StageBound };
        var first = new TransformBlock<int, int>(AddOne, options);
        var sink = new ActionBlock<int>(item => Handler(item, CancellationToken.None), options);
        first.LinkTo(sink, Propagate);
        await PumpAsync(first);
        await sink.Completion;
    }

    [BenchmarkCategory("TransformSink")]
    [Benchmark(Description = "Pipeline job (IAsyncEnumerable): Transform, Sink")]
    public async Task TransformSinkPipeline()
    {
        Job job = Job.Pipeline("transform-sink", RangeAsync(Items)).Transform("add", AddOne).Sink("count", Handler);
        Group.Add(job);
        await job.Completion;
    }

#pragma warning disable CS1998 // An iterator that never waits: the cheapest stream there is.
    private static async IAsyncEnumerable<int> RangeAsync(int count)
#pragma warning restore CS1998
    {
        for (int i = 0; i < count; i++)
        {
            yield return i;
        }
    }

    private static async Task PumpAsync(ITargetBlock<int> first)
    {
        await foreach (int item in RangeAsync(Items))
        {
            await first.SendAsync(item);
        }

        first.Complete();
    }
}
