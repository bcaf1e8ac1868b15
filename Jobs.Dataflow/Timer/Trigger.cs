using System.Diagnostics;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Runs one or more timer jobs early. Give it to the jobs through <see cref="TimerOptions.Trigger"/>
/// and call <see cref="Fire"/> when the work should happen now rather than at the next interval.
/// </summary>
/// <remarks>
/// <para>
/// Fires coalesce: any number of fires before a timer gets to run cause one run of it. A fire is
/// kept the way a <see cref="BroadcastBlock{T}"/> keeps its latest message, so a timer that starts
/// after the trigger was fired (before its group started, or later) runs once right after it
/// starts. One trigger may drive several timers; each fire runs each of them.
/// </para>
/// <para>
/// With a debounce window, a fire that comes within the window that starts with the last run that
/// consumed a fire is held and runs once when the window ends: it is never dropped (the Go original
/// drops it).
/// </para>
/// <para>
/// Counting: every timer that uses the trigger keeps its own count of the fires since its own
/// last run that consumed a fire, and the time of the first of them, so <see
/// cref="IJobMetrics.TimerTriggerStats"/> reports for each timer the fires folded into that
/// timer's run and the latency from the first of them. A timer that starts after fires sees
/// every fire since the trigger was created. Fires, the debounce window and latency are measured
/// on the trigger's own <see cref="TimeProvider"/>.
/// </para>
/// <para>
/// Tracing: a fire made inside an activity (<see cref="Activity.Current"/>) is remembered, and the
/// activity of the timer run it causes links to it; up to <see cref="MaxLinks"/> fires per run.
/// </para>
/// </remarks>
public sealed partial class Trigger
{
    /// <summary>The most links one timer run's activity carries to the activities that fired the trigger for it.</summary>
    internal const int MaxLinks = 32;

    // The broadcast block carries only the wake-up: what a run folds is read from the per-timer
    // counters below, because wake-ups that a busy timer refuses are coalesced away.
    private readonly BroadcastBlock<TimerWake> _broadcast = new(cloningFunction: null);
    private readonly Lock _gate = new();
    private Subscription[] _subscriptions = [];
    private long _fires;
    private long _firstFire;
    private List<ActivityLink>? _links;

    /// <summary>Initializes a new instance of the <see cref="Trigger"/> class.</summary>
    /// <param name="debounce">
    /// The shortest time between the starts of two runs of a timer that fires caused; fires inside
    /// it are held until it ends. <see cref="TimeSpan.Zero"/> (the default): no window.
    /// </param>
    /// <param name="timeProvider">The clock of fires, the debounce window and latency; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="debounce"/> is negative or longer than a timer can wait (about 49 days).</exception>
    public Trigger(TimeSpan debounce = default, TimeProvider? timeProvider = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(debounce, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(debounce, Timers.MaxDelay);
        Debounce = debounce;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the debounce window; <see cref="TimeSpan.Zero"/> when there is none.</summary>
    public TimeSpan Debounce { get; }

    /// <summary>Gets the clock of fires, the debounce window and latency.</summary>
    internal TimeProvider TimeProvider { get; }

    /// <summary>Gets the number of timers that use the trigger now; a timer leaves when its job ends.</summary>
    internal int SubscriptionCount => Volatile.Read(ref _subscriptions).Length;

    /// <summary>
    /// Asks every timer that uses this trigger to run as soon as it can. Thread-safe; never blocks
    /// on the timers (it only takes a short lock to count the fire).
    /// </summary>
    public void Fire()
    {
        long now = TimeProvider.GetTimestamp();
        ActivityContext caller = Activity.Current?.Context ?? default;
        lock (_gate)
        {
            if (_fires++ == 0)
            {
                _firstFire = now;
            }

            // Kept for a timer that subscribes later: it sees every fire since the trigger was created.
            AddLink(ref _links, caller);
            foreach (Subscription subscription in _subscriptions)
            {
                subscription.AddFireLocked(now, caller);
            }
        }

        // After the counters: a timer that the wake-up reaches must see this fire.
        _broadcast.Post(TimerWake.Fire);
    }

    /// <summary>
    /// Registers a timer's run block with every fire made so far pending. The caller stores the
    /// subscription where its runs read it, then calls <see cref="Subscription.Connect"/>: the
    /// broadcast block offers its latest message at once, so the timer runs right after.
    /// </summary>
    internal Subscription Subscribe(ITargetBlock<TimerWake> runBlock)
    {
        var subscription = new Subscription(this, runBlock);
        lock (_gate)
        {
            subscription.AddBacklogLocked(_fires, _firstFire, _links);
            _subscriptions = [.. _subscriptions, subscription];
        }

        return subscription;
    }

    /// <summary>Remembers the activity that made a fire, if any, up to <see cref="MaxLinks"/>.</summary>
    private static void AddLink(ref List<ActivityLink>? links, in ActivityContext caller)
    {
        if (caller != default && (links is null || links.Count < MaxLinks))
        {
            (links ??= []).Add(new ActivityLink(caller));
        }
    }

    /// <summary>Forgets a subscription; called under the lock when its timer job ends.</summary>
    private void RemoveLocked(Subscription subscription)
    {
        int index = Array.IndexOf(_subscriptions, subscription);
        if (index >= 0)
        {
            Subscription[] remaining = new Subscription[_subscriptions.Length - 1];
            Array.Copy(_subscriptions, 0, remaining, 0, index);
            Array.Copy(_subscriptions, index + 1, remaining, index, remaining.Length - index);
            _subscriptions = remaining;
        }
    }
}
