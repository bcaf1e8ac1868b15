namespace Jobs.Dataflow;

/// <summary>
/// The schedule of a timer whose interval is a <see cref="TimerInterval"/>: like
/// <see cref="FixedIntervalSchedule"/>, and it remembers when the current interval began, so a
/// change moves the next tick to that moment plus the new interval (or to now, if that has passed).
/// </summary>
internal sealed class ChangeableIntervalSchedule : TimerSchedule
{
    private readonly TimerInterval _interval;

    // Guards the timer, the interval in force and the start of the current interval: a change
    // and a run's start must not interleave, or the timer would be left on the older of the two.
    private readonly Lock _gate = new();
    private TimerJob? _job;
    private JobContext? _context;
    private ITimer? _timer;
    private TimeSpan _current;
    private long _intervalStart;
    private bool _stopped;

    public ChangeableIntervalSchedule(TimerInterval interval)
    {
        _interval = interval;
    }

    public override void Start(TimerJob job, JobContext context)
    {
        lock (_gate)
        {
            _job = job;
            _context = context;
            _intervalStart = context.TimeProvider.GetTimestamp();
            _current = _interval.Subscribe(this);
            _timer = context.TimeProvider.CreateTimer(
                static state => ((TimerJob)state!).OnTick(), job, _current, _current);
        }
    }

    public override void OnRunStarting(long start)
    {
        lock (_gate)
        {
            _intervalStart = start;
            _timer?.Change(_current, _current);
        }
    }

    public override void Stop()
    {
        lock (_gate)
        {
            // Stryker disable once Boolean : Stop unsubscribes the schedule right after, so only a change racing the stop between the two reaches it.
            _stopped = true;
            _timer?.Dispose();
        }

        _interval.Unsubscribe(this);
    }

    /// <summary>Applies the interval's latest value: the next tick is the current interval's start plus it, or now.</summary>
    public void OnIntervalChanged()
    {
        TimeSpan interval;
        bool tickNow;
        long intervalStart;
        lock (_gate)
        {
            // Stryker disable once Logical : Start subscribes and sets the timer under this lock, so a subscribed schedule never has a null timer here; stopped ones are unsubscribed.
            if (_timer is null || _stopped)
            {
                // Not started yet (it reads the value when it starts) or ended.
                return;
            }

            interval = _interval.Value;
            if (interval == _current)
            {
                return;
            }

            _current = interval;
            TimeProvider time = _context!.TimeProvider;
            TimeSpan elapsed = time.GetElapsedTime(_intervalStart);
            if (elapsed < TimeSpan.Zero)
            {
                // A clock that steps back (a test's, a custom one): the interval begins now, so the
                // wait is the new interval, never that plus the step, and later changes count from here.
                _intervalStart = time.GetTimestamp();
                elapsed = TimeSpan.Zero;
            }

            intervalStart = _intervalStart;
            TimeSpan due = interval - elapsed;

            // Stryker disable once Equality : a due time of exactly zero ticks at once either way: by the tick below, or by the timer armed for now.
            tickNow = due <= TimeSpan.Zero;

            // A tick now is made below, outside the lock, rather than by a zero due time: some
            // clocks (FakeTimeProvider) run a due callback inside Change, under this lock.
            _timer.Change(tickNow ? interval : due, interval);
        }

        Log.TimerIntervalChanged(_context.Logger, _job!.Name, Durations.Format(interval));
        if (tickNow && IntervalStartIs(intervalStart))
        {
            _job.OnTick();
        }
    }

    /// <summary>
    /// Tells whether the current interval still began at <paramref name="start"/>: a run that
    /// started since began a new one, and a tick owed to the old one would add a run after it.
    /// </summary>
    private bool IntervalStartIs(long start)
    {
        lock (_gate)
        {
            return !_stopped && _intervalStart == start;
        }
    }
}
