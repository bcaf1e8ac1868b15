using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 1,000,000 ints from a <see cref="ChannelReader{T}"/> (filled and completed) and from an
/// <see cref="IAsyncEnumerable{T}"/> (an iterator that never waits) through an observer job with
/// default options, against a plain <c>await foreach</c> that calls the same handler.
/// </summary>
/// <remarks>
/// The job pumps the stream into a bounded buffer block that feeds the handler's block: two
/// hand-offs per item that the plain loop does not have. The ratio is the price of backpressure,
/// stop and fault handling, and running the handler on its own task.
/// </remarks>
[InvocationCount(1)]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class ObserverStreamBenchmarks
{
    private const int Items = 1_000_000;

    private readonly ObserverFunc<int> _handler;
    private JobRegistry _registry = null!;
    private IJobGroup _group = null!;
    private Channel<int> _channel = null!;
    private TaskCompletionSource _seenAll = null!;
    private int _seen;

    public ObserverStreamBenchmarks()
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
        _channel = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });
        for (int i = 0; i < Items; i++)
        {
            _channel.Writer.TryWrite(i);
        }

        _channel.Writer.Complete();
        _seen = 0;
        _seenAll = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [BenchmarkCategory("Channel")]
    [Benchmark(Baseline = true, Description = "await foreach ReadAllAsync")]
    public async Task ChannelLoop()
    {
        await foreach (int item in _channel.Reader.ReadAllAsync())
        {
            await _handler(item, CancellationToken.None);
        }
    }

    [BenchmarkCategory("Channel")]
    [Benchmark(Description = "Observer job (ChannelReader)")]
    public async Task ChannelObserver()
    {
        _group.Add(Job.Observer("channel", _handler, _channel.Reader));
        await _seenAll.Task;
    }

    [BenchmarkCategory("AsyncEnumerable")]
    [Benchmark(Baseline = true, Description = "await foreach iterator")]
    public async Task EnumerableLoop()
    {
        await foreach (int item in RangeAsync(Items))
        {
            await _handler(item, CancellationToken.None);
        }
    }

    [BenchmarkCategory("AsyncEnumerable")]
    [Benchmark(Description = "Observer job (IAsyncEnumerable)")]
    public async Task EnumerableObserver()
    {
        _group.Add(Job.Observer("enumerable", _handler, RangeAsync(Items)));
        await _seenAll.Task;
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

    private Task Handle(int item, CancellationToken cancellationToken)
    {
        if (++_seen == Items)
        {
            _seenAll.TrySetResult();
        }

        return Task.CompletedTask;
    }
}
