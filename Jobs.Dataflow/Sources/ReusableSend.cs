using System.Threading.Tasks.Dataflow;
using System.Threading.Tasks.Sources;

namespace Jobs.Dataflow;

/// <summary>
/// Sends items into one bounded block, one at a time, and waits for room without allocating: what
/// <c>DataflowBlock.SendAsync</c> with a token does, for a sender that sends many items in turn (a pump).
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// With a token that can be cancelled, each <c>SendAsync</c> that finds the block full allocates a
/// finalizable source, a weak reference (a GC handle) for its registration with the token, and a
/// task to complete it off the block's lock. A pump whose handler is slower than its source waits
/// for nearly every item, so that was the price of each item under backpressure. This class is
/// the source of every postponed offer of its sender: it registers with the token once, and its
/// wait is a reusable <see cref="IValueTaskSource{TResult}"/>.
/// </para>
/// <para>
/// The protocol is the one a block expects of any source that offers with
/// <c>consumeToAccept</c>: the block postpones the offer, and later consumes the item (it had
/// room), or reserves it and then consumes or releases it, or releases it because it completes.
/// A released item is offered again, off the block's call, and a block that declines it for good
/// ends the wait with false. Cancellation ends a wait with false unless the block holds a
/// reservation: the block then decides, and a release after the cancellation ends the wait with
/// false. Each offer has an id of its own, kept with the state in one word, so a block that comes
/// back with the header of an earlier offer (a late offer again after a release) never takes the
/// item of a later one; and since a block keeps one postponed header per source, an offer again
/// that lands after a later offer is followed by that later offer once more.
/// </para>
/// <para>
/// Unlike <c>SendAsync</c>'s source, it has no finalizer: a block that drops a postponed offer
/// without consuming or releasing it (no block of the library does) leaves the wait to the token.
/// </para>
/// <para>
/// Not thread-safe on the sender's side: one send at a time, and the next only once the wait of
/// the last has completed. A wait's continuation never runs inside the block's call.
/// </para>
/// </remarks>
internal sealed class ReusableSend<T> : ISourceBlock<T>, IValueTaskSource<bool>
{
    // The low two bits of _word: what the offer with the id in the rest is doing.
    private const long Idle = 0;
    private const long Offered = 1;
    private const long Reserved = 2;
    private const long Done = 3;
    private const long StateMask = 3;
    private const int IdShift = 2;

    // Offers that name no source are never postponed nor consumed: any valid id will do.
    private static readonly DataflowMessageHeader DirectHeader = new(1);

    private static readonly Task Never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously).Task;

    private readonly ITargetBlock<T> _target;
    private readonly CancellationToken _token;
    private ManualResetValueTaskSourceCore<bool> _wait = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;
    private bool _registered;
    private T _item = default!;

    // Ids start at 2: 1 is the direct offers'.
    private long _word = 1L << IdShift;

    public ReusableSend(ITargetBlock<T> target, CancellationToken cancellationToken)
    {
        _target = target;
        _token = cancellationToken;
    }

    /// <inheritdoc/>
    Task IDataflowBlock.Completion => Never;

    /// <summary>
    /// Offers <paramref name="item"/> to the block: completes at once with true when the block takes it,
    /// or false when it declines it for good; otherwise waits for room, and completes with true when
    /// the block took the item, false when the wait was cancelled or the block completed first.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <returns>Whether the block took the item. Never faults: a block that throws declined the item.</returns>
    public ValueTask<bool> SendAsync(T item) => TryOffer(item) switch
    {
        DataflowMessageStatus.Accepted => new ValueTask<bool>(true),
        DataflowMessageStatus.Declined => WaitForRoomAsync(item),
        _ => new ValueTask<bool>(false),
    };

    /// <summary>Offers <paramref name="item"/> to the block once, without waiting.</summary>
    /// <param name="item">The item.</param>
    /// <returns>
    /// <see cref="DataflowMessageStatus.Accepted"/>: the block took it; <see cref="DataflowMessageStatus.Declined"/>:
    /// it is full (see <see cref="WaitForRoomAsync"/>); <see cref="DataflowMessageStatus.DecliningPermanently"/>:
    /// it takes nothing more, threw, or the token was cancelled.
    /// </returns>
    public DataflowMessageStatus TryOffer(T item)
    {
        if (_token.IsCancellationRequested)
        {
            return DataflowMessageStatus.DecliningPermanently;
        }

        try
        {
            return _target.OfferMessage(DirectHeader, item, source: null, consumeToAccept: false) switch
            {
                DataflowMessageStatus.Accepted => DataflowMessageStatus.Accepted,
                DataflowMessageStatus.Declined => DataflowMessageStatus.Declined,
                _ => DataflowMessageStatus.DecliningPermanently,
            };
        }
        catch (Exception)
        {
            return DataflowMessageStatus.DecliningPermanently;
        }
    }

    /// <summary>
    /// Offers <paramref name="item"/> to a block that was full a moment ago, which keeps the offer and
    /// comes back for the item when it has room: completes with true when the block took the item,
    /// false when the wait was cancelled or the block completed first.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <returns>Whether the block took the item. Never faults: a block that throws declined the item.</returns>
    public ValueTask<bool> WaitForRoomAsync(T item)
    {
        // Full: the block must come back for the item when it has room.
        if (!_registered)
        {
            _registered = true;
            _registration = _token.UnsafeRegister(static state => ((ReusableSend<T>)state!).Cancel(), this);
        }

        _item = item;
        _wait.Reset();
        long id = (Volatile.Read(ref _word) >> IdShift) + 1;

        // A full fence: the token is read below only once the state says Offered, so of this
        // thread and the token's callback, at least one sees the other and ends the wait.
        Interlocked.Exchange(ref _word, (id << IdShift) | Offered);

        // A cancellation that came before the state said Offered found nothing to cancel.
        if (_token.IsCancellationRequested)
        {
            Cancel();
        }
        else
        {
            Offer(id);
        }

        return new ValueTask<bool>(this, _wait.Version);
    }

    /// <summary>Stops listening to the token; the last wait must have completed.</summary>
    public void Dispose() => _registration.Dispose();

    /// <inheritdoc/>
    T? ISourceBlock<T>.ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<T> target, out bool messageConsumed)
    {
        long word = Volatile.Read(ref _word);
        long state = word & StateMask;
        if ((word >> IdShift) == messageHeader.Id
            && (state == Offered || state == Reserved)
            && Interlocked.CompareExchange(ref _word, (word & ~StateMask) | Done, word) == word)
        {
            // Read before the signal: the sender may send its next item as soon as it runs.
            T item = _item;
            _item = default!;
            messageConsumed = true;
            _wait.SetResult(true);
            return item;
        }

        messageConsumed = false;
        return default;
    }

    /// <inheritdoc/>
    bool ISourceBlock<T>.ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<T> target)
    {
        long offered = (messageHeader.Id << IdShift) | Offered;
        return Interlocked.CompareExchange(ref _word, (messageHeader.Id << IdShift) | Reserved, offered) == offered;
    }

    /// <inheritdoc/>
    void ISourceBlock<T>.ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<T> target)
    {
        long word = Volatile.Read(ref _word);
        if ((word >> IdShift) != messageHeader.Id || (word & StateMask) == Done)
        {
            // The wait of that offer has ended (as SendAsync's source, a release then does nothing).
            return;
        }

        long reserved = (messageHeader.Id << IdShift) | Reserved;
        if (Interlocked.CompareExchange(ref _word, (messageHeader.Id << IdShift) | Offered, reserved) != reserved)
        {
            throw new InvalidOperationException("The message was not reserved by this target.");
        }

        if (_token.IsCancellationRequested)
        {
            Cancel();
            return;
        }

        // Offer it again, but not inside the block's call: it may hold its lock.
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Send.Offer(state.Id), (Send: this, Id: messageHeader.Id), preferLocal: false);
    }

    /// <inheritdoc/>
    IDisposable ISourceBlock<T>.LinkTo(ITargetBlock<T> target, DataflowLinkOptions linkOptions) =>
        throw new NotSupportedException("A send's source offers its item to one block only.");

    /// <inheritdoc/>
    void IDataflowBlock.Complete() => throw new NotSupportedException("A send's source completes with its send.");

    /// <inheritdoc/>
    void IDataflowBlock.Fault(Exception exception) => throw new NotSupportedException("A send's source completes with its send.");

    /// <inheritdoc/>
    bool IValueTaskSource<bool>.GetResult(short token) => _wait.GetResult(token);

    /// <inheritdoc/>
    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wait.GetStatus(token);

    /// <inheritdoc/>
    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);

    /// <summary>Offers the item of offer <paramref name="id"/>, which the block may consume at once, postpone, or decline.</summary>
    private void Offer(long id)
    {
        if (Volatile.Read(ref _word) != ((id << IdShift) | Offered))
        {
            // Offered again after a release, but the wait ended meanwhile.
            return;
        }

        DataflowMessageStatus status;
        try
        {
            status = _target.OfferMessage(new DataflowMessageHeader(id), _item, this, consumeToAccept: true);
        }
        catch (Exception)
        {
            status = DataflowMessageStatus.DecliningPermanently;
        }

        switch (status)
        {
            case DataflowMessageStatus.Accepted:
                // The block consumed the item, and that ended the wait.
                break;
            case DataflowMessageStatus.Postponed:
                // The block will come back for the item. It keeps one header per source: if this
                // was an offer again, late, and a later offer is waiting now, its header may have
                // been replaced by this one, so the later offer is made once more.
                long word = Volatile.Read(ref _word);
                if ((word >> IdShift) > id && (word & StateMask) == Offered)
                {
                    Offer(word >> IdShift);
                }

                break;
            default:
                // Declined, or NotAvailable (a cancellation ended the wait before the block could
                // consume the item, and then this changes nothing).
                End((id << IdShift) | Offered);
                break;
        }
    }

    /// <summary>The token was cancelled: ends the wait in flight, unless the block reserved or consumed its item.</summary>
    private void Cancel()
    {
        long word = Volatile.Read(ref _word);
        if ((word & StateMask) == Offered)
        {
            End(word);
        }
    }

    /// <summary>Ends the wait with false if the state is still <paramref name="expected"/>, an offer not reserved nor consumed.</summary>
    private void End(long expected)
    {
        if (Interlocked.CompareExchange(ref _word, (expected & ~StateMask) | Done, expected) == expected)
        {
            _item = default!;
            _wait.SetResult(false);
        }
    }
}
