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
/// A source that ignores cancellation must not hang a stop: the job waits for it to let go (a
/// pending read to end, a subscription to be disposed) for at most <see cref="ReleaseGrace"/>,
/// then names it in a warning and leaves it behind. The grace is measured on the system clock, not
/// the group's: it guards against a hang rather than schedules work, and a test clock that nobody
/// advances must not turn it into one.
/// </para>
/// </remarks>
internal sealed class ObserverFeed<T>
{
    /// <summary>How long a stopped or ended job waits for its source to let go.</summary>
    internal static readonly TimeSpan ReleaseGrace = TimeSpan.FromSeconds(1);

    private readonly TaskCompletionSource<Exception?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _graceExpired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _graceTimer;
    private int _graceArmed;
    private long _discarded;
    private int _lateLogged;

    public ObserverFeed(JobContext context, ITargetBlock<T> target, bool drain)
    {
        Context = context;
        Target = target;
        Drain = drain;
        SendToken = drain ? context.StopDeadline : context.CancellationToken;
    }

    public JobContext Context { get; }

    /// <summary>Gets the block the source feeds: the handler's, or a buffer in front of it.</summary>
    public ITargetBlock<T> Target { get; }

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

    /// <summary>Gets the number of items taken from the source and discarded.</summary>
    public long Discarded => Interlocked.Read(ref _discarded);

    /// <summary>Gets a task that completes <see cref="ReleaseGrace"/> after the first time it is asked for.</summary>
    public Task GraceExpired
    {
        get
        {
            if (Interlocked.Exchange(ref _graceArmed, 1) == 0)
            {
                Volatile.Write(ref _graceTimer, TimeProvider.System.CreateTimer(
                    static state => ((ObserverFeed<T>)state!)._graceExpired.TrySetResult(), this, ReleaseGrace, Timeout.InfiniteTimeSpan));
                if (_released.Task.IsCompleted)
                {
                    _graceTimer?.Dispose();
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
        Volatile.Read(ref _graceTimer)?.Dispose();
    }

    /// <summary>Counts one item taken from the source and not handled.</summary>
    public void Discard() => Interlocked.Increment(ref _discarded);

    /// <summary>
    /// Counts an item a pump took after the job detached from its source. While draining, that is
    /// an item the job cannot handle any more: a warning says so at once.
    /// </summary>
    public void LateItem()
    {
        Discard();
        if (Drain && Interlocked.Exchange(ref _lateLogged, 1) == 0)
        {
            Log.ObserverLateItem(Context.Logger, Context.JobName);
        }
    }

    /// <summary>Waits for the source to let go, at most <see cref="ReleaseGrace"/>; names a source that does not in a warning.</summary>
    public async Task WaitForReleaseAsync()
    {
        if (_released.Task.IsCompleted)
        {
            return;
        }

        Task first = await Task.WhenAny(_released.Task, GraceExpired).ConfigureAwait(false);
        if (first != _released.Task)
        {
            Log.ObserverSourceNotReleased(Context.Logger, Context.JobName, Durations.Format(ReleaseGrace));
        }
    }

    /// <summary>Logs the items the run discarded, if any: expected after a plain stop, a warning when a drain was cut short.</summary>
    public void LogDiscarded()
    {
        long discarded = Discarded;
        if (discarded == 0)
        {
            return;
        }

        if (Drain)
        {
            Log.ObserverDrainCutShort(Context.Logger, Context.JobName, discarded);
        }
        else
        {
            Log.ObserverDiscarded(Context.Logger, Context.JobName, discarded);
        }
    }
}
