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
/// </remarks>
[InvocationCount(1)]
public class ObserverBlockBenchmarks
{
    private const int Items = 1_000_000;
    private const int Capacity = 64 + 1;
    private static readonly DataflowLinkOptions Propagate = new() { PropagateCompletion = true };

    private readonly ObserverFunc<int> _handler;
    private JobRegistry _registry = null!;
    private IJobGroup _group = null!;
    private BufferBlock<int> _source = null!;
    private TaskCompletionSource _seenAll = null!;
    private int _seen;

    public ObserverBlockBenchmarks()
    {
        _handler = Handle;
    }

    [GlobalSetup]
    public void GlobalSetup()
    {
        _registry = new JobRegistry();
        _group = _registry.NewGroup(new PrimedCounter(int.MaxValue));
        _group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();

    [IterationSetup]
    public void IterationSetup()
    {
        _source = new BufferBlock<int>();
        for (int i = 0; i < Items; i++)
        {
            _source.Post(i);
        }

        _source.Complete();
        _seen = 0;
        _seenAll = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Benchmark(Baseline = true, Description = "ActionBlock(Func<int, Task>), capacity 65")]
    public async Task ActionBlockAsyncDelegate()
    {
        CancellationToken token = CancellationToken.None;
        var action = new ActionBlock<int>(
            item => _handler(item, token),
            new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, MaxDegreeOfParallelism = 1 });
        _source.LinkTo(action, Propagate);
        await action.Completion;
    }

    [Benchmark(Description = "ActionBlock(Action<int>), capacity 65")]
    public async Task ActionBlockSyncDelegate()
    {
        CancellationToken token = CancellationToken.None;
        Action<int> handle = item => _handler(item, token);
        var action = new ActionBlock<int>(
            handle,
            new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, MaxDegreeOfParallelism = 1 });
        _source.LinkTo(action, Propagate);
        await action.Completion;
    }

    [Benchmark(Description = "Observer job")]
    public async Task ObserverJob()
    {
        _group.Add(Job.Observer("observer", _handler, _source));
        await _seenAll.Task;
    }

    private Task Handle(int item, CancellationToken cancellationToken)
    {
        if (++_seen == Items)
        {
            _seenAll.TrySetResult();
        }

        return Task.CompletedTask;
    }
}
