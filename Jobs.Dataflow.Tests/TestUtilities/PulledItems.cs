using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// Items 0 to N-1 as a stream that never waits, or as a channel, counting how far the job has
/// pulled it: a test reads how many items the job took ahead of its handler.
/// </summary>
internal sealed class PulledItems(int count) : IAsyncEnumerable<int>
{
    private const int SourcePausedEventId = 77;

    private readonly SemaphoreSlim _pulled = new(0);
    private int _pulledCount;

    public int Pulled => Volatile.Read(ref _pulledCount);

    private int Count => count;

    public async Task WaitForPulledAsync(int atLeast)
    {
        while (Pulled < atLeast)
        {
            await _pulled.WaitOrTimeout();
        }
    }

    /// <summary>
    /// Drives a job whose first block holds <paramref name="block"/> items, each of which signals
    /// <paramref name="started"/> as its function starts and waits for <paramref name="finish"/>:
    /// once the pump found the block full and said so in <paramref name="logs"/> (it armed its wait
    /// before: a slot freed earlier would let it take its item at once and pull one more), lets 3
    /// items finish and returns how many items the job pulled meanwhile; then lets one more finish,
    /// sees the pump pull again, and lets the rest go.
    /// </summary>
    /// <returns>The items pulled while the block had drained by 3 only: <paramref name="block"/> + 1 (its items and the one in the pump's hand) when the pump waits for half of a block of 9.</returns>
    public async Task<int> PulledWhileTheBlockDrainsAsync(SemaphoreSlim started, SemaphoreSlim finish, int block, LogCapture logs)
    {
        await started.WaitOrTimeout();
        await WaitForPulledAsync(block + 1);
        await logs.WaitForAsync(entry => entry.EventId.Id == SourcePausedEventId).OrTimeout();
        for (int i = 0; i < 3; i++)
        {
            finish.Release();
            await started.WaitOrTimeout();
        }

        int pulledWhileDraining = Pulled;
        finish.Release();
        await started.WaitOrTimeout();
        await WaitForPulledAsync(block + 2);
        finish.Release(count);
        return pulledWhileDraining;
    }

    public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ProduceAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>A channel whose reader counts each item read from it.</summary>
    public ChannelReader<int> AsChannel() => new Reader(this);

    private async IAsyncEnumerable<int> ProduceAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
        {
            Pull();
            yield return i;
        }

        await Task.CompletedTask;
    }

    private void Pull()
    {
        Interlocked.Increment(ref _pulledCount);
        _pulled.Release();
    }

    private sealed class Reader(PulledItems items) : ChannelReader<int>
    {
        private int _next;

        public override bool TryRead(out int item)
        {
            if (_next >= items.Count)
            {
                item = 0;
                return false;
            }

            item = _next++;
            items.Pull();
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => new(_next < items.Count);
    }
}
