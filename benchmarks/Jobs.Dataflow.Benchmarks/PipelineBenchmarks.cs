using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 1,000,000 ints from a filled, completed <see cref="BufferBlock{T}"/> through a pipeline job of
/// three stages (Transform, Transform, Sink; synchronous functions; default options), against the
/// same blocks wired by hand: two <see cref="TransformBlock{TInput, TOutput}"/> and an
/// <see cref="ActionBlock{TInput}"/>, each bounded like the pipeline's (<see cref="PipelineBenchmarkBase.StageBound"/>), linked with
/// completion propagated, fed from the same kind of buffer.
/// </summary>
[InvocationCount(1)]
[WarmupCount(10)]
public class PipelineBenchmarks : PipelineBenchmarkBase
{
    private static readonly Func<int, int> AddOne = x => x + 1;
    private static readonly Func<int, int> Double = x => x * 2;

    [Benchmark(Baseline = true, Description = "TransformBlock -> TransformBlock -> ActionBlock, bound 65")]
    public async Task HandWired()
    {
        var options = new ExecutionDataflowBlockOptions { BoundedCapacity = StageBound };
        var first = new TransformBlock<int, int>(AddOne, options);
        var second = new TransformBlock<int, int>(Double, options);
        var sink = new ActionBlock<int>(item => Handler(item, CancellationToken.None), options);
        Source.LinkTo(first, Propagate);
        first.LinkTo(second, Propagate);
        second.LinkTo(sink, Propagate);
        await sink.Completion;
    }

    [Benchmark(Description = "Pipeline job: Transform, Transform, Sink")]
    public async Task PipelineJob()
    {
        Job job = Job.Pipeline("pipeline", Source).Transform("add", AddOne).Transform("double", Double).Sink("count", Handler);
        Group.Add(job);
        await job.Completion;
    }
}
