using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A stream the test writes items into, that tells how often the job asked it for the next item.
/// A job's pump asks for item N+1 only once it has handed item N to its first block, so
/// <see cref="WaitForPullAsync"/>(N + 1) tells the test that item N is in, on the test's own clock.
/// </summary>
internal sealed class SteppedStream : IAsyncEnumerable<int>
{
    private readonly Channel<int> _items = Channel.CreateUnbounded<int>();
    private readonly SemaphoreSlim _pulled = new(0);
    private int _pulls;

    /// <summary>Gets how many times the job has asked for an item.</summary>
    public int Pulls => Volatile.Read(ref _pulls);

    public void Write(params int[] items)
    {
        foreach (int item in items)
        {
            Assert.IsTrue(_items.Writer.TryWrite(item));
        }
    }

    /// <summary>Ends the stream, with an error when <paramref name="error"/> is given.</summary>
    public void Complete(Exception? error = null) => _items.Writer.Complete(error);

    /// <summary>Waits until the job has asked for item number <paramref name="pulls"/> (from 1): every item before it is in.</summary>
    public async Task WaitForPullAsync(int pulls)
    {
        while (Pulls < pulls)
        {
            await _pulled.WaitOrTimeout();
        }
    }

    public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    private async IAsyncEnumerable<int> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            // Runs when the job calls MoveNextAsync: it has handed on the item before.
            Interlocked.Increment(ref _pulls);
            _pulled.Release();
            if (!await _items.Reader.WaitToReadAsync(cancellationToken) || !_items.Reader.TryRead(out int item))
            {
                yield break;
            }

            yield return item;
        }
    }
}
