using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 1,000,000 ints from a filled, completed <see cref="BufferBlock{T}"/> through an observer job with
/// default options, against the same block linked straight to an <see cref="ActionBlock{T}"/>.
/// </summary>
/// <remarks>
/// Like for like: linked straight to a source block, the job's action block has room for
/// <c>BoundedCapacity + MaxDegreeOfParallelism</c> items (64 + 1 = 65 with default options: the
/// buffer it does not need plus the item in the handler), so the baselines use 65 too. Both run
/// the same handler delegate, which completes synchronously.
/// <para>
/// Thirty iterations, not the configuration's ten: on 2 cores an iteration takes either the fast
/// hand-off (both of Dataflow's tasks on one core, about 200 ms) or the slow one (across the
/// cores, about 600 ms), whichever side is measured, and with ten iterations the mean of either
/// side moved by more than the target's 15 % with how many fast ones it drew.
/// </para>
/// </remarks>
[InvocationCount(1)]
[WarmupCount(10)]
[IterationCount(30)]
public class ObserverBlockBenchmarks : ObserverBenchmarkBase
{
    private const int Capacity = 64 + 1;
    private static readonly DataflowLinkOptions Propagate = new() { PropagateCompletion = true };

    private BufferBlock<int> _source = null!;

    [IterationSetup]
    public void IterationSetup()
    {
        _source = new BufferBlock<int>();
        for (int i = 0; i < Items; i++)
        {
            _source.Post(i);
        }

        _source.Complete();
        ResetCount();
    }

    [Benchmark(Baseline = true, Description = "ActionBlock(Func<int, Task>), capacity 65")]
    public async Task ActionBlockAsyncDelegate()
    {
        CancellationToken token = CancellationToken.None;
        var action = new ActionBlock<int>(
            item => Handler(item, token),
            new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, MaxDegreeOfParallelism = 1 });
        _source.LinkTo(action, Propagate);
        await action.Completion;
    }

    [Benchmark(Description = "ActionBlock(Action<int>), capacity 65")]
    public async Task ActionBlockSyncDelegate()
    {
        CancellationToken token = CancellationToken.None;
        Action<int> handle = item => Handler(item, token);
        var action = new ActionBlock<int>(
            handle,
            new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, MaxDegreeOfParallelism = 1 });
        _source.LinkTo(action, Propagate);
        await action.Completion;
    }

    [Benchmark(Description = "Observer job")]
    public async Task ObserverJob()
    {
        Group.Add(Job.Observer("observer", Handler, _source));
        await SeenAll;
    }
}
