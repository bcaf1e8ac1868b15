namespace Jobs.Dataflow;

/// <summary>
/// An interval that can be changed while the timer jobs that use it run. Give it to
/// <see cref="Job.Timer(string, TimerFunc, TimerInterval, TimerOptions?)"/> and call
/// <see cref="Change"/> whenever the interval should be different; the group is not restarted.
/// </summary>
/// <remarks>
/// <para>
/// A change takes effect from the start of the current interval: the next tick of each timer is
/// its last run's start (or its own start, before its first run) plus the new interval, and if
/// that moment has already passed, the timer ticks at once. A tick during a run coalesces into one
/// run right after it, as every tick does. The interval after that is the new one.
/// </para>
/// <para>
/// One instance may drive several timers, each counting from its own last run. A change made
/// before a timer starts is the interval it starts with.
/// </para>
/// </remarks>
public sealed class TimerInterval
{
    private readonly Lock _gate = new();
    private ChangeableIntervalSchedule[] _schedules = [];
    private long _ticks;

    /// <summary>Initializes a new instance of the <see cref="TimerInterval"/> class.</summary>
    /// <param name="interval">The interval to begin with.</param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="interval"/> is zero, negative (<see cref="Timeout.InfiniteTimeSpan"/> too),
    /// under 1 ms, or longer than a timer can wait (about 49 days).
    /// </exception>
    public TimerInterval(TimeSpan interval)
    {
        Validate(interval);
        _ticks = interval.Ticks;
    }

    /// <summary>Gets the interval in force: the last one given to <see cref="Change"/>, or the first.</summary>
    public TimeSpan Value => TimeSpan.FromTicks(Volatile.Read(ref _ticks));

    /// <summary>
    /// Changes the interval of every timer that uses this instance, from the start of its current
    /// interval. Thread-safe; never blocks on a run.
    /// </summary>
    /// <param name="interval">The new interval.</param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="interval"/> is zero, negative (<see cref="Timeout.InfiniteTimeSpan"/> too),
    /// under 1 ms, or longer than a timer can wait (about 49 days).
    /// </exception>
    public void Change(TimeSpan interval)
    {
        Validate(interval);
        ChangeableIntervalSchedule[] schedules;
        lock (_gate)
        {
            Volatile.Write(ref _ticks, interval.Ticks);
            schedules = _schedules;
        }

        // Outside the lock: a schedule takes its own lock, and reads the latest value there, so
        // two changes racing each other still leave every timer on the last one.
        foreach (ChangeableIntervalSchedule schedule in schedules)
        {
            schedule.OnIntervalChanged();
        }
    }

    /// <summary>Registers a starting timer's schedule for changes; returns the interval it starts with.</summary>
    internal TimeSpan Subscribe(ChangeableIntervalSchedule schedule)
    {
        lock (_gate)
        {
            _schedules = [.. _schedules, schedule];
            return Value;
        }
    }

    /// <summary>Forgets the schedule of a timer that ended.</summary>
    internal void Unsubscribe(ChangeableIntervalSchedule schedule)
    {
        lock (_gate)
        {
            int index = Array.IndexOf(_schedules, schedule);
            if (index >= 0)
            {
                ChangeableIntervalSchedule[] remaining = new ChangeableIntervalSchedule[_schedules.Length - 1];
                Array.Copy(_schedules, 0, remaining, 0, index);
                Array.Copy(_schedules, index + 1, remaining, index, remaining.Length - index);
                _schedules = remaining;
            }
        }
    }

    private static void Validate(TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(interval));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(interval, Timers.MaxDelay, nameof(interval));
        Timers.ThrowIfUnderMinInterval(interval, nameof(interval));
    }
}
