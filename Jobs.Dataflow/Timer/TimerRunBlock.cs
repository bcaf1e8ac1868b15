using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// A timer job's run block: it runs one run at a time and keeps room for one pending run, so
/// wake-ups during a run coalesce into one run right after it. This is what an
/// <see cref="ActionBlock{T}"/> with <c>MaxDegreeOfParallelism = 1</c> and <c>BoundedCapacity = 2</c>
/// does for a timer, in about 200 bytes instead of about 1.9 KB.
/// </summary>
/// <remarks>
/// <para>
/// Why not an <see cref="ActionBlock{T}"/>: an idle timer must cost less than 2 KB (see docs/benchmarks.md), and
/// an empty bounded action block alone takes about 1.9 KB (its queue starts with 32 slots, plus
/// bounding state, cloned options and a completion source). A timer's wake-ups carry no data,
/// since a run reads the tick flag and the trigger's counters, so the whole queue reduces to one
/// bit.
/// </para>
/// <para>
/// It behaves like that action block: a wake-up while idle starts a run on the thread pool; a
/// wake-up during a run leaves one run pending (later ones fold into it); <see cref="Complete()"/>
/// refuses new wake-ups, lets the current and the pending run finish (the run itself drops a
/// pending run once the job's token is cancelled), then completes <see cref="Completion"/>. It
/// can be linked from a <see cref="BroadcastBlock{T}"/>. Unlike the action block, a run does not
/// inherit the execution context of whoever woke it, so its activity is always a root.
/// </para>
/// </remarks>
internal sealed class TimerRunBlock : ITargetBlock<TimerWake>, IThreadPoolWorkItem
{
    // The state is one word, changed only by compare-exchange, so that a wake-up, the end of a run
    // and Complete never miss each other.
    private const int Running = 1;
    private const int Pending = 2;
    private const int Completing = 4;

    private readonly Func<Task> _run;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _fault;
    private int _state;

    /// <summary>Initializes a new instance of the <see cref="TimerRunBlock"/> class.</summary>
    /// <param name="run">One run. It should not throw; if it does (other than a cancellation), the block faults like an action block.</param>
    public TimerRunBlock(Func<Task> run)
    {
        _run = run;
    }

    public Task Completion => _completion.Task;

    /// <summary>Gets a value indicating whether a run is in flight or pending; read by a test kit.</summary>
    public bool IsBusy => (Volatile.Read(ref _state) & (Running | Pending)) != 0;

    /// <summary>Wakes the block; what <see cref="DataflowBlock.Post{TInput}"/> and a linked source call.</summary>
    public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, TimerWake messageValue, ISourceBlock<TimerWake>? source, bool consumeToAccept)
    {
        if (!messageHeader.IsValid)
        {
            throw new ArgumentException("The message header is not valid.", nameof(messageHeader));
        }

        if (source is null && consumeToAccept)
        {
            throw new ArgumentException("A source is needed to consume a message.", nameof(consumeToAccept));
        }

        if ((Volatile.Read(ref _state) & Completing) != 0)
        {
            return DataflowMessageStatus.DecliningPermanently;
        }

        // A source that offers a message it still owns (a BroadcastBlock with a cloning function)
        // must be asked to hand it over first.
        if (consumeToAccept)
        {
            source!.ConsumeMessage(messageHeader, this, out bool consumed);
            if (!consumed)
            {
                return DataflowMessageStatus.NotAvailable;
            }
        }

        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & Completing) != 0)
            {
                // Once consumed, the message is this block's: say so, and drop it as a completing
                // action block drops what it has not started.
                return consumeToAccept ? DataflowMessageStatus.Accepted : DataflowMessageStatus.DecliningPermanently;
            }

            if ((state & Pending) != 0)
            {
                // A run is pending already and has not started: it will see what this wake-up was for.
                return DataflowMessageStatus.Accepted;
            }

            int next = (state & Running) != 0 ? state | Pending : state | Running;
            if (Interlocked.CompareExchange(ref _state, next, state) == state)
            {
                if ((state & Running) == 0)
                {
                    // The unsafe variant flows no ExecutionContext, allocates nothing, and keeps a run
                    // from inheriting the ambient state (Activity.Current, scopes) of whoever woke it.
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                }

                return DataflowMessageStatus.Accepted;
            }
        }
    }

    public void Complete() => Complete(error: null);

    public void Fault(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Complete(exception);
    }

    void IThreadPoolWorkItem.Execute() => _ = ProcessAsync();

    private void Complete(Exception? error)
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & Completing) != 0)
            {
                return;
            }

            if (error is not null)
            {
                Interlocked.CompareExchange(ref _fault, error, null);
            }

            // Like an action block: Complete lets the pending run happen, Fault drops it.
            int next = error is null ? state | Completing : (state | Completing) & ~Pending;
            if (Interlocked.CompareExchange(ref _state, next, state) == state)
            {
                if ((state & Running) == 0)
                {
                    Finish();
                }

                return;
            }
        }
    }

    /// <summary>Runs until no run is pending. Only one is ever active: it owns the <see cref="Running"/> bit.</summary>
    private async Task ProcessAsync()
    {
        while (true)
        {
            try
            {
                await _run().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Like an action block whose delegate is cancelled: that run is over, the block goes on.
            }
            catch (Exception ex)
            {
                // Like an action block whose delegate throws: the block faults and drops the pending run.
                Interlocked.CompareExchange(ref _fault, ex, null);
                Interlocked.Or(ref _state, Completing);
                Interlocked.And(ref _state, ~Pending);
            }

            if (!TryTakePending())
            {
                return;
            }
        }
    }

    /// <summary>
    /// After a run: takes the pending run (clearing its bit before it starts, so a wake-up from now
    /// on asks for another one) or goes idle, finishing the block if it is completing.
    /// </summary>
    private bool TryTakePending()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            bool pending = (state & Pending) != 0;
            int next = pending ? state & ~Pending : state & ~Running;
            if (Interlocked.CompareExchange(ref _state, next, state) != state)
            {
                continue;
            }

            if (pending)
            {
                return true;
            }

            if ((state & Completing) != 0)
            {
                Finish();
            }

            return false;
        }
    }

    private void Finish()
    {
        if (Volatile.Read(ref _fault) is { } fault)
        {
            _completion.TrySetException(fault);
        }
        else
        {
            _completion.TrySetResult();
        }
    }
}
