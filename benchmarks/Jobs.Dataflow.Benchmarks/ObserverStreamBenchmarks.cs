using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 1,000,000 ints from a <see cref="ChannelReader{T}"/> (filled and completed) and from an
/// <see cref="IAsyncEnumerable{T}"/> (an iterator that never waits) through an observer job with
/// default options. The baseline is what a user would wire by hand for the same guarantees: an
/// <c>await foreach</c> that sends each item into a bounded <see cref="ActionBlock{T}"/> (capacity
/// 65, as the job's) and waits for room when it is full. A plain <c>await foreach</c> that calls
/// the handler inline is reported too: no backpressure, no separate handler task, no stop.
/// </summary>
/// <remarks>
/// 30 warm-up iterations, not 10: printed step by step (<c>PROFILE_LOOP_EACH=1 ... loop enumerable</c>),
/// both sides take 15 to 25 runs of a million items to reach their steady time pinned to one core,
/// where the background compiler shares the core; with 10, the measured runs were still getting
/// faster, and the ratio compared half-compiled code. A service that moves items for hours pays
/// the steady time.
/// <para>
/// 30 measured iterations, not 15: pinned, an iteration of either side sometimes takes the slow
/// hand-off (about 150–170 ms instead of 120–135), and with 15 iterations how many slow ones the
/// job's process drew moved its mean by more than the target's 15 % (1.00 to 1.20 over four runs).
/// </para>
/// </remarks>
[InvocationCount(1)]
[WarmupCount(30)]
[IterationCount(30)]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class ObserverStreamBenchmarks : ObserverBenchmarkBase
{
    private const int Capacity = 64 + 1;

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
    [Benchmark(Baseline = true, Description = "await foreach ReadAllAsync -> SendAsync -> ActionBlock(65)")]
    public Task ChannelPumpedByHand() => PumpByHandAsync(_channel.Reader.ReadAllAsync());

    [BenchmarkCategory("Channel")]
    [Benchmark(Description = "await foreach ReadAllAsync, handler inline")]
    public Task ChannelLoop() => LoopAsync(_channel.Reader.ReadAllAsync());

    [BenchmarkCategory("Channel")]
    [Benchmark(Description = "Observer job (ChannelReader)")]
    public async Task ChannelObserver()
    {
        Group.Add(Job.Observer("channel", Handler, _channel.Reader));
        await SeenAll;
    }

    [BenchmarkCategory("AsyncEnumerable")]
    [Benchmark(Baseline = true, Description = "await foreach iterator -> SendAsync -> ActionBlock(65)")]
    public Task EnumerablePumpedByHand() => PumpByHandAsync(RangeAsync(Items));

    [BenchmarkCategory("AsyncEnumerable")]
    [Benchmark(Description = "await foreach iterator, handler inline")]
    public Task EnumerableLoop() => LoopAsync(RangeAsync(Items));

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

    private async Task PumpByHandAsync(IAsyncEnumerable<int> source)
    {
        CancellationToken token = CancellationToken.None;
        var action = new ActionBlock<int>(
            item => Handler(item, token),
            new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity, MaxDegreeOfParallelism = 1 });
        await foreach (int item in source)
        {
            await action.SendAsync(item);
        }

        action.Complete();
        await action.Completion;
    }

    private async Task LoopAsync(IAsyncEnumerable<int> source)
    {
        await foreach (int item in source)
        {
            await Handler(item, CancellationToken.None);
        }
    }
}
