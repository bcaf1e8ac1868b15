using System.Runtime.CompilerServices;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Pulls a source (a stream, a channel) and offers each item to the handler's bounded block. A
/// full block pauses the pump in <c>SendAsync</c> with the item in its hand: backpressure.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// Items go over in runs: while the source has items at hand (a channel's <c>TryRead</c>, a
/// stream's <c>MoveNextAsync</c> that completes at once) and the block has room (a <c>SendAsync</c> that completes at once), the
/// pump moves them in a plain loop, without an await, a task or an interlocked operation per item.
/// It awaits only when the block is full or the source has nothing at hand.
/// </para>
/// <para>
/// A stop must not lose the item in the pump's hand, nor one a pending pull is about to return.
/// The pump's state is one word: whether it is running on its own (taking, offering or sending an
/// item: it sees a stop itself) or waiting for its source (the stop must act for it), and two
/// flags, <c>Stopping</c> (the group's token fired) and <c>Detached</c> (the job no longer takes
/// anything from the source). Only the pump changes what it is doing; the stop only sets flags. So:
/// </para>
/// <list type="bullet">
/// <item>Running: the pump finishes what it holds (a send waits with the drain's token, or the
/// group's by default, which discards the item), then sees <c>Stopping</c> before it takes another item.</item>
/// <item>Waiting: a wait that takes nothing (a channel's) is detached at once. A pull that may take
/// an item (a stream's <c>MoveNextAsync</c>) is detached at once by default, and its item discarded;
/// when draining, the job waits for it, so its item is handled, for at most the feed's grace, in case
/// the source ignores cancellation. A pull that ends after the detach hands in a late item, counted.</item>
/// </list>
/// </remarks>
internal abstract class Pump<T>
{
    private const int Running = 0;
    private const int Waiting = 1;
    private const int Stopping = 2;
    private const int Detached = 4;

    private readonly bool _pullTakesItems;
    private int _state;
    private bool _ended;

    // The wait in flight as a task a test kit can see complete; only while a kit tracks the job.
    private Task<bool>? _pendingWait;

    protected Pump(SourceFeed<T> feed, bool pullTakesItems)
    {
        Feed = feed;
        _pullTakesItems = pullTakesItems;
    }

    /// <summary>
    /// Gets a value indicating whether the pump waits for its source, with nothing at hand: its
    /// wait is in flight, or it has ended. Read by a test kit; exact only while the kit tracks the
    /// job (see <see cref="AwaitSource"/>).
    /// </summary>
    public bool IsAtRest =>
        Volatile.Read(ref _ended)
        || ((Volatile.Read(ref _state) & Waiting) != 0 && Volatile.Read(ref _pendingWait) is not { IsCompleted: true });

    protected SourceFeed<T> Feed { get; }

    /// <summary>Starts pumping on the caller's thread up to the first wait; never throws.</summary>
    public void Start() => _ = RunAsync();

    /// <summary>Takes and offers items until the source ends or <see cref="CanTake"/> says to stop.</summary>
    protected abstract Task PumpAsync();

    /// <summary>Lets go of the source (disposes an enumerator); called once the pump returned. May be user code.</summary>
    protected virtual ValueTask DisposeSourceAsync() => ValueTask.CompletedTask;

    /// <summary>Tells whether the pump may take another item from its source; false once the group stops: the pump must return.</summary>
    protected bool CanTake()
    {
        // The token may fire before its callback (OnStop) has run: the stop's deadline, when it has
        // fired already, runs first. Never take anything once the group stops.
        return (Volatile.Read(ref _state) & (Stopping | Detached)) == 0 && !Feed.StopToken.IsCancellationRequested;
    }

    /// <summary>
    /// Marks that the pump is about to await its source. A stop that came while the pump was running
    /// found nothing to do for it: the pump acts for it now, as the stop would have.
    /// </summary>
    protected void BeginWait()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (Interlocked.CompareExchange(ref _state, state | Waiting, state) == state)
            {
                // A stop before this change saw the pump running and left it to the pump; a stop
                // after it sees it waiting and acts itself: exactly one of the two acts.
                if ((state & Stopping) != 0)
                {
                    StopWhileWaiting();
                }

                return;
            }
        }
    }

    /// <summary>
    /// Marks the end of the wait: the pump runs on its own again, holding the item the pull
    /// returned, if any. False when the job detached meanwhile: the pump must return, and an item it
    /// got is late (see <see cref="SourceFeed{T}.LateItem"/>).
    /// </summary>
    protected bool EndWait()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & Detached) != 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _state, state & ~Waiting, state) == state)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Returns the wait for the source to await, between <see cref="BeginWait"/> and
    /// <see cref="EndWait"/>. While a test kit tracks the job, it is awaited through a task the kit
    /// can see complete before the pump resumes (see <see cref="IsAtRest"/>); otherwise as it is.
    /// </summary>
    protected ValueTask<bool> AwaitSource(ValueTask<bool> wait)
    {
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
    /// One <c>SendAsync</c>, never a <c>Post</c> first: when the block is full, as it is whenever
    /// the handler is slower than the source, the pump would pay a declined offer for every item.
    /// </remarks>
    protected ValueTask OfferAsync(T item)
    {
        Feed.Admit?.Invoke(item);
        Task<bool> send = Feed.Target.SendAsync(item, Feed.SendToken);
        return send.IsCompletedSuccessfully && send.Result ? ValueTask.CompletedTask : WhenSentAsync(send);
    }

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
        Volatile.Write(ref _ended, true);
    }

    /// <summary>Waits for a send the block had no room for; counts the item as discarded unless the block took it.</summary>
    /// <remarks>Pooled: under backpressure, every wait would otherwise box a new state machine.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WhenSentAsync(Task<bool> send)
    {
        // SuppressThrowing is for a plain Task only: a cancelled wait is an item not accepted.
        await ((Task)send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!send.IsCompletedSuccessfully || !send.Result)
        {
            Feed.Discard();
        }
    }

    private void OnStop()
    {
        int before = Interlocked.Or(ref _state, Stopping);
        if ((before & Waiting) != 0 && (before & Stopping) == 0)
        {
            StopWhileWaiting();
        }
    }

    /// <summary>The stop of a pump that waits for its source: detach at once, or, draining a pull that may return an item, after the grace.</summary>
    private void StopWhileWaiting()
    {
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

    /// <summary>Detaches from a wait in flight: completes the block and reports the end without waiting for the source.</summary>
    private void Detach()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & Waiting) == 0 || (state & Detached) != 0)
            {
                // Running: the pump itself completes the block once it returns.
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
}
