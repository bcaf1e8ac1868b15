using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 1,000,000 ints through a <c>Batch(1000)</c> stage to a sink, against a raw
/// <see cref="BatchBlock{T}"/> of 1,000 (bounded to one batch, as the stage is) linked to an
/// <see cref="ActionBlock{TInput}"/> of batches.
/// </summary>
[InvocationCount(1)]
[WarmupCount(10)]
public class PipelineBatchBenchmarks : PipelineBenchmarkBase
{
    private const int Size = 1000;

    [Benchmark(Baseline = true, Description = "BatchBlock(1000) -> ActionBlock")]
    public async Task HandWired()
    {
        var batch = new BatchBlock<int>(Size, new GroupingDataflowBlockOptions { BoundedCapacity = Size });
        var sink = new ActionBlock<int[]>(items => BatchHandler(items, CancellationToken.None), new ExecutionDataflowBlockOptions { BoundedCapacity = StageBound });
        Source.LinkTo(batch, Propagate);
        batch.LinkTo(sink, Propagate);
        await sink.Completion;
    }

    [Benchmark(Description = "Pipeline job: Batch(1000), Sink")]
    public async Task PipelineJob()
    {
        Job job = Job.Pipeline("batch", Source).Batch("batch", Size).Sink("count", BatchHandler);
        Group.Add(job);
        await job.Completion;
    }
}
