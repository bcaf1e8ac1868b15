using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Pulls a source (a stream, a channel) and offers each item to the handler's bounded block. A
/// full block pauses the pump with the item in its hand until the block takes it: backpressure.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// Items go over in runs: while the source has items at hand (a channel's <c>TryRead</c>, a
/// stream's <c>MoveNextAsync</c> that completes at once) and the block has room (an offer it takes at once), the
/// pump moves them in a plain loop, without an await, a task or an interlocked operation per item.
/// It awaits only when the block is full or the source has nothing at hand.
/// </para>
/// <para>
/// A stop must not lose the item in the pump's hand, nor one a pending pull is about to return.
/// The pump's state is one word: whether it is running on its own (taking, offering or sending an
/// item: it sees a stop itself) or waiting for its source (the stop must act for it), and three
/// flags, <c>Stopping</c> (the group's token fired), <c>Detached</c> (the job no longer takes
/// anything from the source) and <c>Ended</c> (the pump returned and let go of its source). Only the
/// pump changes what it is doing; the stop only sets flags, and detaches a pump it finds waiting. So:
/// </para>
/// <list type="bullet">
/// <item>Running: the pump finishes what it holds (a send waits with the drain's token, or the
/// group's by default, which discards the item), then sees the group's token before it takes
/// another item. If it was about to wait, it acts for the stop when it marks the wait.</item>
/// <item>Waiting: a wait that takes nothing (a channel's) is detached at once. A pull that may take
/// an item (a stream's <c>MoveNextAsync</c>) is waited for, for at most the feed's grace, in case the
/// source ignores cancellation: its item is then offered like any other, so it is handled when
/// draining and counted as discarded otherwise. A pull that ends after the detach hands in a late
/// item, counted.</item>
/// <item>Inside a call to its source that blocks instead of returning a pending task (a stream's
/// <c>MoveNextAsync</c> that ignores its token): the stop cannot reach the pump, so after the
/// feed's grace it detaches the job from it, as from a pull that never completes. An item the call
/// returns after that is late, counted. The pump runs on the thread pool from its start, so such a
/// call never holds up the job's own flow.</item>
/// </list>
/// </remarks>
internal abstract class Pump<T>
{
    private const int Waiting = 1;
    private const int Stopping = 2;
    private const int Detached = 4;
    private const int Ended = 8;

    private readonly bool _pullTakesItems;
    private readonly ReusableSend<T> _send;
    private readonly HandlerRoom? _room;

    // The items the block took from this pump: the room's wait counts from it.
    private long _sent;

    // Set once the block refused an item for good: it takes nothing more, so the pump takes nothing more either.
    private bool _refused;

    // Set once the pump logged its first pause: one entry per run, not one per wait.
    private bool _pauseLogged;

    // No flag set: the pump runs on its own.
    private int _state;

    // Set while the pump is inside a call to its source that has not returned yet (see EnterSource).
    private volatile bool _inSourceCall;

    // The wait in flight as a task a test kit can see complete; only while a kit tracks the job.
    private Task<bool>? _pendingWait;

    protected Pump(SourceFeed<T> feed, bool pullTakesItems)
    {
        Feed = feed;
        _pullTakesItems = pullTakesItems;
        _send = new ReusableSend<T>(feed.Target, feed.SendToken);
        _room = feed.Room;
    }

    /// <summary>
    /// Gets a value indicating whether the pump waits for its source, with nothing at hand (its wait
    /// is in flight), or has ended and let go of it: a pipeline's stages may work on long after.
    /// False while it takes or offers an item, and from the moment its wait completes until it
    /// hands the item on. Read by a test kit; exact only while the kit tracks the job (see
    /// <see cref="AwaitSource"/>).
    /// </summary>
    public bool IsAtRest
    {
        get
        {
            int state = Volatile.Read(ref _state);
            return (state & Ended) != 0
                || ((state & Waiting) != 0 && Volatile.Read(ref _pendingWait) is not { IsCompleted: true });
        }
    }

    /// <summary>Gets a value indicating whether the pump is inside a call to its source that has not returned (see <see cref="EnterSource"/>).</summary>
    public bool InSourceCall => _inSourceCall;

    protected SourceFeed<T> Feed { get; }

    /// <summary>
    /// Starts pumping on the thread pool; never throws. Not on the caller's thread: a source's own
    /// code (a stream's <c>GetAsyncEnumerator</c>, <c>MoveNextAsync</c> or <c>DisposeAsync</c>) may
    /// block, and the job must still see its stop.
    /// </summary>
    public void Start() => ThreadPool.UnsafeQueueUserWorkItem(static pump => _ = pump.RunAsync(), this, preferLocal: false);

    /// <summary>Takes and offers items until the source ends or <see cref="CanTake"/> says to stop.</summary>
    protected abstract Task PumpAsync();

    /// <summary>Lets go of the source (disposes an enumerator); called once the pump returned. May be user code.</summary>
    protected virtual ValueTask DisposeSourceAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Tells whether the pump may take another item from its source; false once the group stops, or
    /// once the block refused an item for good: the pump must return.
    /// </summary>
    /// <remarks>
    /// The token, not the state: it may fire before its callback has run (the stop's deadline, when
    /// it has fired already, runs first), and nothing may be taken once the group stops. A block
    /// refuses for good only after a stop, or when it completed without the pump (a block faulted:
    /// a bug of the library); every item taken after that would only be discarded, and an endless
    /// source would keep the job from ending.
    /// </remarks>
    protected bool CanTake() => !_refused && !Feed.StopToken.IsCancellationRequested;

    /// <summary>
    /// Marks that the pump calls into its source (user code that may block instead of returning a
    /// pending task). A stop that still finds it there after the grace detaches the job from it
    /// (see <see cref="DetachIfStuck"/>). Two plain writes per call, no interlocked operation.
    /// </summary>
    protected void EnterSource() => _inSourceCall = true;

    /// <summary>
    /// Marks that the call into the source returned. False when the job detached meanwhile (the
    /// call took longer than the stop's grace): the pump must return, and an item the call
    /// returned is late (see <see cref="SourceFeed{T}.LateItem"/>).
    /// </summary>
    protected bool LeaveSource()
    {
        _inSourceCall = false;
        return (Volatile.Read(ref _state) & Detached) == 0;
    }

    /// <summary>
    /// Marks that the pump is about to await its source. A stop that came while the pump was running
    /// found nothing to detach: the pump acts for it now, as the stop would have.
    /// </summary>
    protected void BeginWait()
    {
        if ((Interlocked.Or(ref _state, Waiting) & Stopping) != 0)
        {
            StopWhileWaiting();
        }
    }

    /// <summary>
    /// Marks the end of the wait: the pump runs on its own again, holding the item the pull
    /// returned, if any. False when the job detached meanwhile: the pump must return, and an item it
    /// got is late (see <see cref="SourceFeed{T}.LateItem"/>).
    /// </summary>
    protected bool EndWait() => (Interlocked.And(ref _state, ~Waiting) & Detached) == 0;

    /// <summary>
    /// Returns the wait for the source to await, between <see cref="BeginWait"/> and
    /// <see cref="EndWait"/>. While a test kit tracks the job, it is awaited through a task the kit
    /// can see complete before the pump resumes (see <see cref="IsAtRest"/>); otherwise as it is.
    /// </summary>
    protected ValueTask<bool> AwaitSource(ValueTask<bool> wait)
    {
        // Stryker disable once Block: untracked, the wait would be awaited through a task as well: only an allocation tells.
        if (Feed.Context.Work is null)
        {
            return wait;
        }

        Task<bool> task = wait.AsTask();
        Volatile.Write(ref _pendingWait, task);
        return new ValueTask<bool>(task);
    }

    /// <summary>
    /// Hands an item to the block: at once when it has room (the returned task is then complete,
    /// and awaiting it costs nothing), or when room comes. An item the block does not accept (the
    /// wait was cancelled, the block completed) is counted as discarded.
    /// </summary>
    /// <remarks>
    /// <para>
    /// One offer, never a <c>Post</c> first: when the block is full, as it is whenever the handler
    /// is slower than the source, the pump would pay a declined offer for every item. The wait for
    /// room is the pump's own reusable one (see <see cref="ReusableSend{T}"/>), so it allocates
    /// nothing.
    /// </para>
    /// <para>
    /// When the handler counts what it starts (<see cref="SourceFeed{T}.Room"/>: an observer's, or a pipeline's first stage's), a
    /// full block is left to drain by half before the pump runs again: the block still takes the
    /// item the pump holds as soon as it has a slot, but the pump wakes once per half block instead
    /// of once per item.
    /// </para>
    /// </remarks>
    protected ValueTask OfferAsync(T item)
    {
        Feed.Admit?.Invoke(item);
        DataflowMessageStatus offered = _send.TryOffer(item);
        if (offered == DataflowMessageStatus.Accepted)
        {
            _sent++;
            return ValueTask.CompletedTask;
        }

        if (offered != DataflowMessageStatus.Declined)
        {
            Refused();
            return ValueTask.CompletedTask;
        }

        // Full. The room's wait is armed before the item is offered again (see HandlerRoom).
        ValueTask<bool> room = _room?.WaitAsync(_sent - _room.Half) ?? ValueTask.FromResult(true);
        ValueTask<bool> send = _send.WaitForRoomAsync(item);

        // Stryker disable once Statement,Block: a send that completed at once would be awaited in the helper instead: only speed tells.
        if (send.IsCompletedSuccessfully && (_room is null || _room.TryDisarm()))
        {
            Sent(send.Result);
            return ValueTask.CompletedTask;
        }

        // After the arm: whoever reads this may let the block drain, and the pump counts it.
        if (!_pauseLogged)
        {
            _pauseLogged = true;
            Log.SourcePaused(Feed.Context.Logger, Feed.Context.JobName);
        }

        return WhenSentAsync(room, send);
    }

    private async Task RunAsync()
    {
        Exception? fault = null;
        using (Feed.StopToken.UnsafeRegister(static state => ((Pump<T>)state!).OnStop(), this))
        {
            try
            {
                await PumpAsync().ConfigureAwait(false);
            }
            catch (Exception) when (Feed.StopToken.IsCancellationRequested)
            {
                // Whatever the source throws once the job is stopped is a normal end (docs/behaviour.md#rule-6).
            }
            catch (Exception ex)
            {
                fault = ex;
            }
        }

        // No send waits any more: the pump awaited its last one.
        _send.Dispose();
        _room?.Dispose();

        // Idempotent: after a detach, the block is completed and the end reported already.
        Feed.CompleteTarget();
        Feed.End(fault);
        try
        {
            await DisposeSourceAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.SourceDetachFailed(Feed.Context.Logger, Feed.Context.JobName, ex);
        }

        // Before the release: whoever sees the source let go sees the pump at rest.
        Interlocked.Or(ref _state, Ended);
        Feed.Released();
    }

    /// <summary>
    /// Waits for a send the block had no room for, and for the block to drain by half if the
    /// handler counts what it starts; counts the item as discarded unless the block took it.
    /// </summary>
    /// <remarks>Pooled: under backpressure, every wait would otherwise box a new state machine.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WhenSentAsync(ValueTask<bool> room, ValueTask<bool> send)
    {
        // False (cancelled, or the block completed): the send ends too, and tells what became of the item.
        await room.ConfigureAwait(false);
        Sent(await send.ConfigureAwait(false));
    }

    /// <summary>Counts an item the block took, or counts it as discarded.</summary>
    private void Sent(bool taken)
    {
        if (taken)
        {
            _sent++;
        }
        else
        {
            Refused();
        }
    }

    /// <summary>The block refused the item for good: it is counted as discarded, and the pump takes nothing more.</summary>
    private void Refused()
    {
        _refused = true;
        Feed.Discard();
    }

    /// <summary>
    /// The group stopped. A pump that waits is detached (or given the grace) here; one that runs
    /// sees the stop itself, or in <see cref="BeginWait"/> if it was about to wait: of the two, the
    /// one that sets its flag second acts. A running pump starts no grace (the job gives its source
    /// the whole grace to let go once the drain is over), unless it is inside a call to its source.
    /// </summary>
    private void OnStop()
    {
        if ((Interlocked.Or(ref _state, Stopping) & Waiting) != 0)
        {
            StopWhileWaiting();
        }
        else if (_inSourceCall)
        {
            // Running, but inside a call to its source: it sees the stop itself once the call
            // returns, unless it never does. The callback runs on the thread pool after the token
            // is cancelled, long after a pump that read the token as live marked its next call.
            Feed.GraceExpired.ContinueWith(
                static (_, state) => ((Pump<T>)state!).DetachIfStuck(),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>
    /// The grace after the stop is over: a pump still inside a call to its source (one that blocks
    /// and ignores the token; the pump makes at most one call after the stop) is left behind, as a
    /// pull that never completes is. The job then ends, and names the source in a warning, as it
    /// does every source that does not let go in time.
    /// </summary>
    private void DetachIfStuck()
    {
        if (_inSourceCall)
        {
            Detach(required: 0, forbidden: Detached | Ended);
        }
    }

    /// <summary>The stop of a pump that waits for its source: detach at once, or, from a pull that may return an item, after the grace.</summary>
    /// <remarks>
    /// The job waits for its source to let go for the grace anyway (see
    /// <see cref="SourceFeed{T}.WaitForReleaseAsync"/>), so waiting as long for the pull costs a stop
    /// nothing, and an item it returns meanwhile takes the one path every taken item takes: the
    /// pump offers it, and it is handled (draining) or counted as discarded (the send's token, the
    /// group's, has fired).
    /// </remarks>
    private void StopWhileWaiting()
    {
        if (_pullTakesItems)
        {
            // A pull in flight that may return an item: wait for it, but not forever. A pull that
            // returns within the grace runs the pump again, and the detach finds it running.
            Feed.GraceExpired.ContinueWith(
                static (_, state) => ((Pump<T>)state!).Detach(),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
        else
        {
            Detach();
        }
    }

    /// <summary>Detaches from a wait in flight: completes the block and reports the end without waiting for the source.</summary>
    /// <remarks>
    /// Only a waiting pump: a running one completes the block itself once it returns. (A pump
    /// whose wait threw returned still waiting: completing and reporting again change nothing.)
    /// </remarks>
    private void Detach() => Detach(required: Waiting, forbidden: Detached);

    /// <summary>
    /// Marks the pump detached when its state has the <paramref name="required"/> flags and none
    /// of the <paramref name="forbidden"/> ones, then completes the block and reports the end
    /// without waiting for the source.
    /// </summary>
    private void Detach(int required, int forbidden)
    {
        int state;
        do
        {
            state = Volatile.Read(ref _state);
            if ((state & required) != required || (state & forbidden) != 0)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _state, state | Detached, state) != state);

        Feed.CompleteTarget();
        Feed.End(null);
    }
}
