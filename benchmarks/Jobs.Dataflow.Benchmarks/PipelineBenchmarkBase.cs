using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// What the pipeline benchmarks share: a started group (default registry: no-op metrics, so no
/// stage reads the clock), a source of 1,000,000 ints filled and completed before each iteration,
/// and a synchronous sink that counts items.
/// </summary>
/// <remarks>
/// The classes deriving from it warm up for 10 iterations instead of 3: pinned to one core, the
/// background compiler shares that core with the run, and the blocks' code reached its optimized
/// tier only after about six iterations of a million items (each side ran about 2.5 times slower
/// until then).
/// </remarks>
public abstract class PipelineBenchmarkBase
{
    protected const int Items = 1_000_000;

    /// <summary>
    /// The bound of a default stage's block: 64 items that may wait (the default capacity) plus the
    /// one it works on. The hand-wired blocks get the same, so both sides buffer alike.
    /// </summary>
    protected const int StageBound = 64 + 1;

    protected static readonly DataflowLinkOptions Propagate = new() { PropagateCompletion = true };

    private JobRegistry _registry = null!;

    protected PipelineBenchmarkBase()
    {
        Handler = Handle;
        BatchHandler = HandleBatch;
    }

    /// <summary>Gets the sink for single items: bound once, so no run allocates a delegate for it.</summary>
    protected ObserverFunc<int> Handler { get; }

    /// <summary>Gets the sink for batches.</summary>
    protected ObserverFunc<int[]> BatchHandler { get; }

    protected IJobGroup Group { get; private set; } = null!;

    protected BufferBlock<int> Source { get; private set; } = null!;

    /// <summary>Gets the number of items the sinks counted in the current iteration.</summary>
    protected long Counted { get; private set; }

    [GlobalSetup]
    public void GlobalSetup()
    {
        _registry = new JobRegistry();
        Group = _registry.NewGroup(new PrimedCounter(int.MaxValue));
        Group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => Group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();

    [IterationSetup]
    public void IterationSetup()
    {
        Source = new BufferBlock<int>();
        for (int i = 0; i < Items; i++)
        {
            Source.Post(i);
        }

        Source.Complete();
        Counted = 0;
    }

    private Task Handle(int item, CancellationToken cancellationToken)
    {
        Counted++;
        return Task.CompletedTask;
    }

    private Task HandleBatch(int[] batch, CancellationToken cancellationToken)
    {
        Counted += batch.Length;
        return Task.CompletedTask;
    }
}
