using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// One run's link between an observer job's source and its handler: the block the source feeds,
/// the tokens that stop it, what the run counts, and when the source has let go.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// Nothing taken from the source is lost without a count: an item is either handled, or counted
/// as discarded (skipped by the handler after a stop, or dropped while a pump or a push held it
/// when the wait for room was cancelled). The job logs the count when it ends.
/// </para>
/// <para>
/// A source that ignores cancellation must not hang a stop: once the group stops, the job waits for
/// its source to let go (a pending read to end, an enumerator or a subscription to be disposed) for
/// at most <see cref="ReleaseGrace"/>, then names it in a warning and leaves it behind. A source that
/// ended by itself is waited for without a grace until the group stops: a slow but honest dispose
/// is not cut short. The grace is measured on the system clock, not the group's: it guards against
/// a hang rather than schedules work, and a test clock that nobody advances must not turn it into one
/// (tests of the grace itself give the registry a fake one).
/// </para>
/// </remarks>
internal sealed class SourceFeed<T>
{
    /// <summary>How long a stopped or ended job waits for its source to let go.</summary>
    internal static readonly TimeSpan ReleaseGrace = TimeSpan.FromSeconds(1);

    private readonly TaskCompletionSource<Exception?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _graceExpired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _countLock = new();
    private ITimer? _graceTimer;
    private int _graceArmed;
    private long _discarded;
    private bool _discardsLogged;

    public SourceFeed(JobContext context, ITargetBlock<T> target, bool drain)
    {
        Context = context;
        Target = target;
        Drain = drain;
        SendToken = drain ? context.StopDeadline : context.CancellationToken;
    }

    public JobContext Context { get; }

    /// <summary>Gets the block the source feeds: the handler's or the first stage's, or a buffer in front of it.</summary>
    public ITargetBlock<T> Target { get; }

    /// <summary>
    /// Gets what observes each item as it is offered to <see cref="Target"/> (it always admits it),
    /// or <see langword="null"/>: a pipeline's batch stage counts its arrivals with it.
    /// </summary>
    public Predicate<T>? Admit { get; init; }

    /// <summary>
    /// Gets the count of the items the fed block starts (an observer's handler, a pipeline's first
    /// stage), which a pump waits on to let a full block drain by half, or <see langword="null"/>
    /// (a batch stage, or a block that runs as many items in parallel as half of it holds).
    /// </summary>
    public HandlerRoom? Room { get; init; }

    /// <summary>Gets a value indicating whether a stop drains what was taken (<see cref="ObserverOptions.DrainOnStop"/>).</summary>
    public bool Drain { get; }

    /// <summary>Gets the token that detaches the source: the group's.</summary>
    public CancellationToken StopToken => Context.CancellationToken;

    /// <summary>
    /// Gets the token that ends the wait of an item taken from the source for room in the block:
    /// the group's by default (the item is then discarded), the stop's deadline when draining.
    /// </summary>
    public CancellationToken SendToken { get; }

    /// <summary>Gets a task that completes with the source's fault (or null) when the source ended, failed, or was detached.</summary>
    public Task<Exception?> Ended => _ended.Task;

    /// <summary>Gets a task that completes <see cref="ReleaseGrace"/> after the first time it is asked for.</summary>
    public Task GraceExpired
    {
        get
        {
            if (Interlocked.Exchange(ref _graceArmed, 1) == 0)
            {
                ITimer timer = Context.GraceClock.CreateTimer(
                    static state => ((SourceFeed<T>)state!)._graceExpired.TrySetResult(), this, ReleaseGrace, Timeout.InfiniteTimeSpan);

                // Interlocked on both sides (here and in Released): full fences, so one of the two
                // always sees the other's write and the timer never outlives the release.
                Interlocked.Exchange(ref _graceTimer, timer);
                if (_released.Task.IsCompleted)
                {
                    Interlocked.Exchange(ref _graceTimer, null)?.Dispose();
                }
            }

            return _graceExpired.Task;
        }
    }

    /// <summary>Completes the block the source feeds: nothing more is taken. Idempotent.</summary>
    public void CompleteTarget() => Target.Complete();

    /// <summary>Reports that the source ended (<paramref name="fault"/> null: completed, stopped or detached). The first report wins.</summary>
    public void End(Exception? fault) => _ended.TrySetResult(fault);

    /// <summary>Reports that the source has let go: its pump has returned, its subscription is disposed.</summary>
    public void Released()
    {
        _released.TrySetResult();
        Interlocked.Exchange(ref _graceTimer, null)?.Dispose();
    }

    /// <summary>
    /// Counts one item taken from the source and not handled. After the job logged its count (a
    /// pump the job left behind, that let go of an item later), the item gets a log entry of its own.
    /// </summary>
    public void Discard()
    {
        if (CountedBeforeTheLog())
        {
            return;
        }

        if (Drain)
        {
            Log.DrainCutShort(Context.Logger, Context.JobName, 1);
        }
        else
        {
            Log.ItemsDiscarded(Context.Logger, Context.JobName, 1);
        }
    }

    /// <summary>
    /// Counts an item a pump took after the job detached from its source. Before the job logged its
    /// count, the item joins it; after, it gets a log entry of its own. While draining, such an
    /// item is one the job cannot handle any more: a warning says so.
    /// </summary>
    public void LateItem()
    {
        if (CountedBeforeTheLog())
        {
            return;
        }

        if (Drain)
        {
            Log.SourceLateItem(Context.Logger, Context.JobName);
        }
        else
        {
            Log.ItemsDiscarded(Context.Logger, Context.JobName, 1);
        }
    }

    /// <summary>
    /// Waits for the source to let go: without a limit while the group runs (the source ended by
    /// itself), then for at most <see cref="ReleaseGrace"/> from the stop. Names a source that does
    /// not let go in time in a warning, and leaves it behind.
    /// </summary>
    public async Task WaitForReleaseAsync()
    {
        Task released = _released.Task;
        if (released.IsCompleted)
        {
            return;
        }

        if (!StopToken.IsCancellationRequested)
        {
            await released.WaitAsync(StopToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (released.IsCompleted)
            {
                return;
            }
        }

        Task first = await Task.WhenAny(released, GraceExpired).ConfigureAwait(false);
        if (first != released)
        {
            Log.SourceNotReleased(Context.Logger, Context.JobName, Durations.Format(ReleaseGrace));
        }
    }

    /// <summary>
    /// Logs the items the run discarded, if any: expected after a plain stop, a warning when a drain
    /// was cut short or a block of the job failed.
    /// </summary>
    /// <param name="elsewhere">Items discarded after the feed handed them on (a pipeline's later stages).</param>
    /// <param name="blockFailed">Whether a block of the job failed (a bug of the library), rather than the group stopping.</param>
    public void LogDiscarded(long elsewhere = 0, bool blockFailed = false)
    {
        long discarded;
        lock (_countLock)
        {
            _discardsLogged = true;
            discarded = _discarded + elsewhere;
        }

        if (discarded == 0)
        {
            return;
        }

        if (blockFailed)
        {
            Log.ItemsDiscardedByAFailedBlock(Context.Logger, Context.JobName, discarded);
        }
        else if (Drain)
        {
            Log.DrainCutShort(Context.Logger, Context.JobName, discarded);
        }
        else
        {
            Log.ItemsDiscarded(Context.Logger, Context.JobName, discarded);
        }
    }

    /// <summary>Counts one more discarded item, unless the job has logged its count already: false then, and the caller logs the item on its own.</summary>
    private bool CountedBeforeTheLog()
    {
        lock (_countLock)
        {
            if (_discardsLogged)
            {
                return false;
            }

            _discarded++;
            return true;
        }
    }
}
