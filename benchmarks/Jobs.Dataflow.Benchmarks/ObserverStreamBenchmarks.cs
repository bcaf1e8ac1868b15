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
public class ObserverStreamBenchmarks : ObserverBenchmarkBase
{
    private Channel<int> _channel = null!;

    [IterationSetup]
    public void IterationSetup()
    {
        _channel = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });
        for (int i = 0; i < Items; i++)
        {
            _channel.Writer.TryWrite(i);
        }

        _channel.Writer.Complete();
        ResetCount();
    }

    [BenchmarkCategory("Channel")]
    [Benchmark(Baseline = true, Description = "await foreach ReadAllAsync")]
    public async Task ChannelLoop()
    {
        await foreach (int item in _channel.Reader.ReadAllAsync())
        {
            await Handler(item, CancellationToken.None);
        }
    }

    [BenchmarkCategory("Channel")]
    [Benchmark(Description = "Observer job (ChannelReader)")]
    public async Task ChannelObserver()
    {
        Group.Add(Job.Observer("channel", Handler, _channel.Reader));
        await SeenAll;
    }

    [BenchmarkCategory("AsyncEnumerable")]
    [Benchmark(Baseline = true, Description = "await foreach iterator")]
    public async Task EnumerableLoop()
    {
        await foreach (int item in RangeAsync(Items))
        {
            await Handler(item, CancellationToken.None);
        }
    }

    [BenchmarkCategory("AsyncEnumerable")]
    [Benchmark(Description = "Observer job (IAsyncEnumerable)")]
    public async Task EnumerableObserver()
    {
        Group.Add(Job.Observer("enumerable", Handler, RangeAsync(Items)));
        await SeenAll;
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
}
