using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Pulls a source (a stream, a channel) and sends each item into the handler's bounded block. A
/// full block pauses the pump in <c>SendAsync</c> with the item in its hand: backpressure.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// A stop must not lose the item in the pump's hand, nor one a pending pull is about to return.
/// The pump's state is one word: what it is doing (idle, pulling, holding an item) and two flags,
/// <c>Stopping</c> (the group's token fired) and <c>Detached</c> (the job no longer takes anything
/// from the source). Only the pump changes what it is doing; the stop only sets flags. So:
/// </para>
/// <list type="bullet">
/// <item>Idle: the pump sees <c>Stopping</c> before its next pull, completes the block and returns.</item>
/// <item>Holding: the pump finishes its send (with the drain's token, or the group's by default, which
/// discards the item), then sees <c>Stopping</c>.</item>
/// <item>Pulling: a pull that takes nothing (a channel's wait) is detached at once. A pull that may take
/// an item (a stream's <c>MoveNextAsync</c>) is detached at once by default, and its item discarded;
/// when draining, the job waits for it, so its item is handled, for at most the feed's grace, in case
/// the source ignores cancellation. A pull that ends after the detach hands in a late item, counted.</item>
/// </list>
/// </remarks>
internal abstract class Pump<T>
{
    private const int Idle = 0;
    private const int Pulling = 1;
    private const int Holding = 2;
    private const int ActivityMask = 3;
    private const int Stopping = 4;
    private const int Detached = 8;

    private readonly bool _pullTakesItems;
    private int _state;

    protected Pump(SourceFeed<T> feed, bool pullTakesItems)
    {
        Feed = feed;
        _pullTakesItems = pullTakesItems;
    }

    protected SourceFeed<T> Feed { get; }

    /// <summary>Starts pumping on the caller's thread up to the first wait; never throws.</summary>
    public void Start() => _ = RunAsync();

    /// <summary>Pulls and sends until the source ends or <see cref="BeginPull"/> or <see cref="BeginHold"/> says to stop.</summary>
    protected abstract Task PumpAsync();

    /// <summary>Lets go of the source (disposes an enumerator); called once the pump returned. May be user code.</summary>
    protected virtual ValueTask DisposeSourceAsync() => ValueTask.CompletedTask;

    /// <summary>Marks the start of a pull; false when the job is stopping or detached, and the pump must return.</summary>
    protected bool BeginPull() => TryChange(Idle, Pulling);

    /// <summary>
    /// Marks the end of a pull: the pump now holds the item it returned, if any. False when the job
    /// detached meanwhile: the pump must return, and an item it got is late (see <see cref="SourceFeed{T}.LateItem"/>).
    /// </summary>
    protected bool EndPull(bool gotItem) => TryChange(Pulling, gotItem ? Holding : Idle);

    /// <summary>Marks that the pump is about to take an item without a pull (a channel's <c>TryRead</c>); false when stopping.</summary>
    protected bool BeginHold() => TryChange(Idle, Holding);

    /// <summary>
    /// Sends the item the pump holds, waits for room, and marks the pump idle again. An item the
    /// block does not accept (the wait was cancelled) is counted as discarded.
    /// </summary>
    /// <remarks>
    /// Pooled: a send that waits for room would otherwise box a new state machine for every item
    /// under backpressure, which the pump's one long-lived loop did not.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected async ValueTask SendAsync(T item)
    {
        Feed.Admit?.Invoke(item);

        // SendAsync completes at once, with a cached task, while the block has room.
        Task<bool> send = Feed.Target.SendAsync(item, Feed.SendToken);
        bool accepted;
        if (send.IsCompletedSuccessfully)
        {
            accepted = send.Result;
        }
        else
        {
            // SuppressThrowing is for a plain Task only: a cancelled wait is an item not accepted.
            await ((Task)send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            accepted = send.IsCompletedSuccessfully && send.Result;
        }

        if (!accepted)
        {
            Feed.Discard();
        }

        EndHold();
    }

    /// <summary>Marks the pump idle again after <see cref="BeginHold"/> or <see cref="EndPull"/>, keeping the flags.</summary>
    protected void EndHold() => Interlocked.And(ref _state, ~ActivityMask);

    private async Task RunAsync()
    {
        Exception? fault = null;
        CancellationTokenRegistration stop = Feed.StopToken.UnsafeRegister(static state => ((Pump<T>)state!).OnStop(), this);
        CancellationTokenRegistration deadline = Feed.Drain
            ? Feed.SendToken.UnsafeRegister(static state => ((Pump<T>)state!).Detach(), this)
            : default;
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
        finally
        {
            stop.Dispose();
            deadline.Dispose();
        }

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

        Feed.Released();
    }

    private void OnStop()
    {
        int before = Interlocked.Or(ref _state, Stopping);
        if ((before & ActivityMask) != Pulling)
        {
            return;
        }

        if (!Feed.Drain || !_pullTakesItems)
        {
            Detach();
            return;
        }

        // Draining, with a pull in flight that may return an item: wait for it, but not forever.
        Feed.GraceExpired.ContinueWith(
            static (_, state) => ((Pump<T>)state!).Detach(),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Detaches from a pull in flight: completes the block and reports the end without waiting for the source.</summary>
    private void Detach()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & ActivityMask) != Pulling || (state & Detached) != 0)
            {
                // Idle or holding: the pump itself completes the block after its send.
                return;
            }

            if (Interlocked.CompareExchange(ref _state, state | Detached, state) == state)
            {
                Feed.CompleteTarget();
                Feed.End(null);
                return;
            }
        }
    }

    private bool TryChange(int from, int to)
    {
        bool leaving = from == Pulling;
        if (!leaving && Feed.StopToken.IsCancellationRequested)
        {
            // The token may fire before its callback (OnStop) has run: the stop's deadline, when it
            // has fired already, runs first. Never take anything once the group stops.
            Interlocked.Or(ref _state, Stopping);
        }

        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & Detached) != 0 || (!leaving && (state & Stopping) != 0))
            {
                // Detached: the pump must return. Stopping: it may finish a pull, never begin one.
                return false;
            }

            if (Interlocked.CompareExchange(ref _state, (state & ~ActivityMask) | to, state) == state)
            {
                return true;
            }
        }
    }
}
