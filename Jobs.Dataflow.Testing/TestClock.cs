using Microsoft.Extensions.Time.Testing;

namespace Jobs.Dataflow.Testing;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that knows its timers: when each is due next. A
/// <see cref="JobTestKit"/> advances it from one due timer to the next (see
/// <see cref="JobTestKit.AdvanceAsync"/>), so every timer fires at its own time, not at the end of
/// the span.
/// </summary>
/// <remarks>
/// Every timer made through it counts: the jobs' intervals, backoff delays, debounce windows and
/// batch delays, and a <see cref="Task.Delay(TimeSpan, TimeProvider)"/> or a
/// <see cref="CancellationTokenSource"/> on this clock in the code under test.
/// </remarks>
public class TestClock : FakeTimeProvider
{
    // The longest a timer waits, as the fake clock's timers check it.
    private static readonly TimeSpan MaxTimerTime = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly Lock _gate = new();
    private readonly HashSet<TrackedTimer> _timers = [];
    private readonly List<Exception> _callbackErrors = [];

    // Counts the adjustments of the clock, under the lock: a timer armed from a time read before one must read it again.
    private long _generation;

    /// <summary>Initializes a new instance of the <see cref="TestClock"/> class, at 2026-01-01 00:00 UTC.</summary>
    public TestClock()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>Initializes a new instance of the <see cref="TestClock"/> class.</summary>
    /// <param name="start">The time the clock starts at.</param>
    public TestClock(DateTimeOffset start)
        : base(start)
    {
    }

    /// <summary>Gets the time the earliest armed timer is due, or <see langword="null"/> when no timer is armed.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate)
            {
                DateTimeOffset? next = null;
                foreach (TrackedTimer timer in _timers)
                {
                    if (timer.Due is { } due && (next is null || due < next))
                    {
                        next = due;
                    }
                }

                return next;
            }
        }
    }

    /// <summary>Gets the number of timers that are armed (due at some time).</summary>
    public int ArmedTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count(timer => timer.Due is not null);
            }
        }
    }

    /// <summary>
    /// Gets the exceptions that timer callbacks threw, oldest first. A throwing callback would stop
    /// every later timer of a <see cref="FakeTimeProvider"/>, so the clock keeps it here instead,
    /// and a <see cref="JobTestKit"/> rethrows it from its next wait.
    /// </summary>
    public IReadOnlyList<Exception> CallbackErrors
    {
        get
        {
            lock (_gate)
            {
                return [.. _callbackErrors];
            }
        }
    }

    /// <summary>
    /// Sets the clock's time without firing timers, as when a system clock is set: every timer keeps
    /// its wait relative to now, as the fake clock's own timers do, so that advancing the clock
    /// afterwards still reaches each timer at its own time.
    /// </summary>
    /// <param name="value">The new time.</param>
    /// <remarks>
    /// This hides <see cref="FakeTimeProvider.AdjustTime"/>, which knows nothing of this clock's
    /// record of when each timer is due; call it through a <see cref="TestClock"/> (as
    /// <c>kit.Time</c> is), not through a <see cref="FakeTimeProvider"/> reference.
    /// </remarks>
    public new void AdjustTime(DateTimeOffset value)
    {
        // Read outside the lock: reading the fake clock may run due timer callbacks, which must
        // never run under it. A timer armed meanwhile sees the generation change and arms again.
        // The fake clock's own shift counts from the time after this read (see Arm).
        TimeSpan shift = value - (GetUtcNow() + AutoAdvanceAmount);
        lock (_gate)
        {
            foreach (TrackedTimer timer in _timers)
            {
                timer.Shift(shift);
            }

            // Runs no timer callback: the fake clock only moves its waiters. Counted after it, so a
            // timer that read the time before it, old or new, finds the count changed.
            base.AdjustTime(value);
            Volatile.Write(ref _generation, _generation + 1);
        }
    }

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfNotATimersTime(dueTime, nameof(dueTime));
        ThrowIfNotATimersTime(period, nameof(period));
        var tracked = new TrackedTimer(this);

        // Armed before the inner timer exists (a timer due now fires inside CreateTimer), and
        // forgotten again when the inner one refuses its times. Armed and recorded in one step, so
        // that AdjustTime shifts it or finds it not yet armed.
        Arm(tracked, dueTime, period, record: true);

        try
        {
            tracked.Inner = base.CreateTimer(
                s =>
                {
                    tracked.Fired();
                    try
                    {
                        callback(s);
                    }
                    catch (Exception ex)
                    {
                        lock (_gate)
                        {
                            _callbackErrors.Add(ex);
                        }
                    }
                },
                state,
                dueTime,
                period);
        }
        catch
        {
            Forget(tracked);
            throw;
        }

        return tracked;
    }

    /// <summary>Throws for a time no timer takes: below <see cref="Timeout.InfiniteTimeSpan"/>, or over about 49.7 days.</summary>
    private static void ThrowIfNotATimersTime(TimeSpan time, string paramName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(time, Timeout.InfiniteTimeSpan, paramName);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(time, MaxTimerTime, paramName);
    }

    /// <summary>
    /// Sets when <paramref name="timer"/> is due, from the time read outside the lock (reading the
    /// fake clock may run due callbacks), and records it when asked; read again if the clock was
    /// adjusted meanwhile, so that no timer is armed from the time before an adjustment and left out of it.
    /// </summary>
    private void Arm(TrackedTimer timer, TimeSpan dueTime, TimeSpan period, bool record)
    {
        while (true)
        {
            // A read moves a clock with an AutoAdvanceAmount on after it, and the inner timer
            // counts from where it moved to.
            long generation = Volatile.Read(ref _generation);
            DateTimeOffset now = GetUtcNow() + AutoAdvanceAmount;
            lock (_gate)
            {
                if (_generation != generation)
                {
                    continue;
                }

                timer.SetDue(dueTime == Timeout.InfiniteTimeSpan ? null : now + dueTime, period);
                if (record)
                {
                    _timers.Add(timer);
                }

                return;
            }
        }
    }

    private void Forget(TrackedTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    /// <summary>A timer of the clock, and when it is due next.</summary>
    private sealed class TrackedTimer(TestClock clock) : ITimer
    {
        private readonly Lock _gate = new();
        private DateTimeOffset? _due;
        private TimeSpan _period = Timeout.InfiniteTimeSpan;

        public ITimer? Inner { get; set; }

        public DateTimeOffset? Due
        {
            get
            {
                lock (_gate)
                {
                    return _due;
                }
            }
        }

        public void SetDue(DateTimeOffset? due, TimeSpan period)
        {
            lock (_gate)
            {
                _due = due;
                _period = period;
            }
        }

        public void Shift(TimeSpan shift)
        {
            lock (_gate)
            {
                _due += shift;
            }
        }

        public void Fired()
        {
            lock (_gate)
            {
                // A periodic timer is due one period after the time it was due, as the fake clock
                // reschedules it (several periods passed in one advance fire one after another);
                // a one-time timer is done.
                _due = _period == Timeout.InfiniteTimeSpan || _period == TimeSpan.Zero ? null : (_due ?? clock.GetUtcNow()) + _period;
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            // Checked first, as the inner timer checks them, so that nothing armed needs undoing.
            ThrowIfNotATimersTime(dueTime, nameof(dueTime));
            ThrowIfNotATimersTime(period, nameof(period));

            // Armed before the inner timer changes, as in CreateTimer: a timer changed to be due now
            // fires inside Change, and its firing must move the due time on from the new one.
            clock.Arm(this, dueTime, period, record: false);
            return Inner?.Change(dueTime, period) ?? false;
        }

        public void Dispose()
        {
            clock.Forget(this);
            lock (_gate)
            {
                _due = null;
            }

            Inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
