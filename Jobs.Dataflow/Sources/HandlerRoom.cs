using System.Threading.Tasks.Dataflow;
using System.Threading.Tasks.Sources;

namespace Jobs.Dataflow;

/// <summary>
/// Counts the items the handler's block starts, so that a pump that found the block full can wait
/// until it has drained by half before it offers again, instead of waking for every slot that frees.
/// </summary>
/// <remarks>
/// <para>
/// Without it, a pump whose handler is slower than its source resumes through the thread pool for
/// nearly every item: each item the handler finishes frees one slot, the block takes the item the
/// pump holds, and the pump wakes to find the block full again. Waiting for half the block to
/// drain makes that one wake-up per half block, and leaves the handler's thread alone meanwhile.
/// </para>
/// <para>
/// The handler's side costs a plain increment and a read per item (an interlocked increment with
/// several handlers in parallel). The pump's side is fenced: it arms the wait with a full fence,
/// reads the count, and only then offers the item it holds to the block. The block takes that item
/// under its lock, after the arm, and starts it later on the handler's thread, which then reads the
/// arm and signals, since that item comes after the target. So a wait always ends, even if the
/// handler's own writes reach the pump late, as long as the block keeps starting items; when it
/// cannot (it completed, or the wait's token was cancelled), <see cref="Close"/> or the token ends
/// the wait with false.
/// </para>
/// <para>
/// One wait at a time, by one pump; the handler's side may run on several threads.
/// </para>
/// </remarks>
internal sealed class HandlerRoom : IValueTaskSource<bool>
{
    /// <summary>The least bound of a block for which a pump waits for it to drain by half.</summary>
    internal const int MinBlock = 4;

    private readonly bool _parallel;
    private readonly CancellationToken _token;
    private ManualResetValueTaskSourceCore<bool> _wait = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;
    private bool _registered;
    private volatile bool _closed;
    private long _started;

    // The count of started items the armed wait waits for; 0 when no wait is armed.
    private long _wanted;

    /// <summary>Initializes a new instance of the <see cref="HandlerRoom"/> class.</summary>
    /// <param name="half">How many items the block must drain, counted from a full block, before a wait ends.</param>
    /// <param name="parallel">Whether the handler's block starts items on several threads at once.</param>
    /// <param name="cancellationToken">Ends a wait with false: the pump's send token.</param>
    public HandlerRoom(int half, bool parallel, CancellationToken cancellationToken)
    {
        Half = half;
        _parallel = parallel;
        _token = cancellationToken;
    }

    /// <summary>Gets how many items the block must drain, from full, before a wait ends.</summary>
    public int Half { get; }

    /// <summary>
    /// Opens a count for a block of <paramref name="bound"/> items that starts up to
    /// <paramref name="parallelism"/> at once, if half the block is a run worth waking for: a block
    /// of at least <see cref="MinBlock"/>, and fewer items in parallel than half of it (with more,
    /// items start as they arrive).
    /// </summary>
    /// <param name="bound">The block's bound, counting the items it works on.</param>
    /// <param name="parallelism">The block's parallelism, or <see cref="DataflowBlockOptions.Unbounded"/>.</param>
    /// <param name="cancellationToken">Ends a wait with false: the pump's send token.</param>
    /// <returns>The count, or <see langword="null"/> when the wait would not pay.</returns>
    public static HandlerRoom? ForBlock(int bound, int parallelism, CancellationToken cancellationToken)
    {
        if (bound < MinBlock || parallelism == DataflowBlockOptions.Unbounded || parallelism >= bound / 2)
        {
            return null;
        }

        return new HandlerRoom(bound / 2, parallelism != 1, cancellationToken);
    }

    /// <summary>The handler's block started an item (to handle it, or to skip it after a stop).</summary>
    public void Started()
    {
        long started = _parallel ? Interlocked.Increment(ref _started) : ++_started;
        long wanted = Volatile.Read(ref _wanted);
        if (wanted != 0 && started >= wanted)
        {
            End(wanted, true);
        }
    }

    /// <summary>
    /// Arms a wait until the block has started <paramref name="target"/> items in all. Call it
    /// before offering the item the pump holds to the full block (see the remarks).
    /// </summary>
    /// <param name="target">The count of started items to wait for.</param>
    /// <returns>True once the block started that many items; false when the token was cancelled or the room closed first.</returns>
    public ValueTask<bool> WaitAsync(long target)
    {
        if (!_registered)
        {
            _registered = true;
            _registration = _token.UnsafeRegister(static state => ((HandlerRoom)state!).Cancel(), this);
        }

        target = Math.Max(target, 1);
        _wait.Reset();

        // A full fence: the reads below come after the arm, so the token's callback, Close, or the
        // handler sees the arm, or this sees what they did.
        Interlocked.Exchange(ref _wanted, target);
        if (_closed || _token.IsCancellationRequested)
        {
            End(target, false);
        }
        else if (Volatile.Read(ref _started) >= target)
        {
            End(target, true);
        }

        return new ValueTask<bool>(this, _wait.Version);
    }

    /// <summary>Disarms a wait nobody will await (the block took the item at once after all): true if it was still armed.</summary>
    public bool TryDisarm()
    {
        long wanted = Volatile.Read(ref _wanted);
        return wanted != 0 && Interlocked.CompareExchange(ref _wanted, 0, wanted) == wanted;
    }

    /// <summary>The block starts no more items (it completed): ends the wait in flight, and every later one, with false.</summary>
    public void Close()
    {
        _closed = true;
        Cancel();
    }

    /// <summary>Stops listening to the token.</summary>
    public void Dispose() => _registration.Dispose();

    /// <inheritdoc/>
    bool IValueTaskSource<bool>.GetResult(short token) => _wait.GetResult(token);

    /// <inheritdoc/>
    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wait.GetStatus(token);

    /// <inheritdoc/>
    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);

    private void Cancel()
    {
        long wanted = Volatile.Read(ref _wanted);
        if (wanted != 0)
        {
            End(wanted, false);
        }
    }

    /// <summary>Ends the wait armed for <paramref name="wanted"/>, if it still is: of several callers, one wins.</summary>
    private void End(long wanted, bool room)
    {
        if (Interlocked.CompareExchange(ref _wanted, 0, wanted) == wanted)
        {
            _wait.SetResult(room);
        }
    }
}
