using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A source of the items 0 .. <c>items</c>-1 of one kind, filled up front (or produced as the job
/// pulls), that counts how many items it gave away: what the drain tests compare the handled
/// items with.
/// </summary>
/// <param name="kind">The kind of source.</param>
/// <param name="items">How many items it holds.</param>
internal sealed class CountedSource(SourceKind kind, int items)
{
    private readonly Channel<int> _channel = Channel.CreateUnbounded<int>();
    private readonly BufferBlock<int> _block = new();
    private readonly Lock _pushGate = new();
    private bool _stopProducing;
    private long _yielded;
    private long _pushed;

    /// <summary>Gets how many items the source holds.</summary>
    public int Items => items;

    /// <summary>Gets how many items the job took from the source.</summary>
    public long Taken => kind switch
    {
        SourceKind.AsyncEnumerable => Interlocked.Read(ref _yielded),
        SourceKind.Observable => Interlocked.Read(ref _pushed),
        SourceKind.Channel => items - _channel.Reader.Count,
        _ => items - _block.Count,
    };

    /// <summary>Fills the source and makes a job (or a pipeline) of it with the function for its kind.</summary>
    public T Create<T>(
        Func<IAsyncEnumerable<int>, T> fromStream,
        Func<IObservable<int>, T> fromObservable,
        Func<ChannelReader<int>, T> fromChannel,
        Func<ISourceBlock<int>, T> fromBlock)
    {
        switch (kind)
        {
            case SourceKind.AsyncEnumerable:
                return fromStream(YieldAsync());
            case SourceKind.Observable:
                return fromObservable(new PushingObservable(this));
            case SourceKind.Channel:
                for (int i = 0; i < items; i++)
                {
                    _channel.Writer.TryWrite(i);
                }

                _channel.Writer.Complete();
                return fromChannel(_channel.Reader);
            default:
                for (int i = 0; i < items; i++)
                {
                    _block.Post(i);
                }

                _block.Complete();
                return fromBlock(_block);
        }
    }

    /// <summary>
    /// Stops a push source before the stop, so that only the push in flight is at stake: a push
    /// after the job detached is dropped by design (docs/behaviour.md#rule-28) and is not an item the job took.
    /// </summary>
    public void StopProducing()
    {
        // Under the push gate: once this returns, no push begins, and _pushed counts every push
        // that returned except the one that may be in flight.
        lock (_pushGate)
        {
            _stopProducing = true;
        }
    }

    private async IAsyncEnumerable<int> YieldAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < items; i++)
        {
            if (i % 1024 == 0)
            {
                // Now and then the stream really waits, as a file or a socket does.
                await Task.Yield();
            }

            Interlocked.Increment(ref _yielded);
            yield return i;
        }
    }

    private sealed class PushingObservable(CountedSource owner) : IObservable<int>
    {
        public IDisposable Subscribe(IObserver<int> observer)
        {
            var subscription = new Subscription();
            _ = Task.Factory.StartNew(
                () =>
                {
                    for (int i = 0; i < owner.Items && !subscription.Disposed; i++)
                    {
                        lock (owner._pushGate)
                        {
                            if (owner._stopProducing)
                            {
                                return;
                            }
                        }

                        observer.OnNext(i);

                        // Counted once OnNext returned: the job had the item then (it blocks while full).
                        Interlocked.Increment(ref owner._pushed);
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            return subscription;
        }
    }

    private sealed class Subscription : IDisposable
    {
        private volatile bool _disposed;

        public bool Disposed => _disposed;

        public void Dispose() => _disposed = true;
    }
}
