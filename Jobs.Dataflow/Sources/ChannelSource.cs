using System.Threading.Channels;

namespace Jobs.Dataflow;

/// <summary>Pumps a channel into the handler's bounded block.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// Not through <see cref="ChannelReader{T}.ReadAllAsync"/>: its enumerator takes an item out of the
/// channel inside <c>MoveNextAsync</c>, so a stop that detaches during that call could lose it. Here
/// the pump waits with <see cref="ChannelReader{T}.WaitToReadAsync"/>, which takes nothing, and takes
/// each item with <see cref="ChannelReader{T}.TryRead"/> only once it may hold it: a stop that comes
/// during the wait detaches at once, and an item, once read, is always delivered or counted.
/// </remarks>
internal sealed class ChannelSource<T> : JobSource<T>
{
    private readonly ChannelReader<T> _reader;
    private ChannelPump? _pump;

    public ChannelSource(ChannelReader<T> reader)
    {
        _reader = reader;
    }

    public override bool FeedsHandlerDirectly => true;

    public override bool IsPumped => true;

    // A channel wakes its pending reader on the thread pool: until then the pump still waits,
    // with an item in the channel. The channel itself says whether it holds one.
    public override bool IsAtRest => Volatile.Read(ref _pump) is { IsAtRest: true } && !HasItemAtHand(_reader);

    public override Task<Exception?> FeedAsync(SourceFeed<T> feed)
    {
        var pump = new ChannelPump(_reader, feed);
        Volatile.Write(ref _pump, pump);
        pump.Start();
        return feed.Ended;
    }

    private static bool HasItemAtHand(ChannelReader<T> reader) =>
        reader.CanPeek ? reader.TryPeek(out _) : reader.CanCount && reader.Count > 0;

    private sealed class ChannelPump : Pump<T>
    {
        private readonly ChannelReader<T> _reader;

        public ChannelPump(ChannelReader<T> reader, SourceFeed<T> feed)
            : base(feed, pullTakesItems: false)
        {
            _reader = reader;
        }

        protected override async Task PumpAsync()
        {
            ChannelReader<T> reader = _reader;
            while (CanTake())
            {
                if (reader.TryRead(out T? item))
                {
                    await OfferAsync(item).ConfigureAwait(false);

                    // Stryker disable once Statement: without it, the wait below returns at once while the channel holds items; only speed tells.
                    continue;
                }

                // Empty for now. Throws the channel's error when it was completed with one: the source's fault.
                ValueTask<bool> wait = reader.WaitToReadAsync(Feed.StopToken);
                bool more;
                if (wait.IsCompleted)
                {
                    more = wait.GetAwaiter().GetResult();
                }
                else
                {
                    BeginWait();
                    more = await AwaitSource(wait).ConfigureAwait(false);
                    if (!EndWait())
                    {
                        // Stryker disable once Statement: a wait takes nothing, and CanTake ends the loop once detached.
                        return;
                    }
                }

                if (!more)
                {
                    return;
                }
            }
        }
    }
}
