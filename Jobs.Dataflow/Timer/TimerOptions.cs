namespace Jobs.Dataflow;

/// <summary>Options of a timer job: a trigger that runs it early, a run at start, a timeout per run, and shutdown on error.</summary>
public sealed class TimerOptions
{
    private readonly TimeSpan? _runTimeout;

    /// <summary>Gets the trigger that runs the job early; each run it causes restarts the interval.</summary>
    /// <value>The default is <see langword="null"/>: the job runs only every interval.</value>
    public Trigger? Trigger { get; init; }

    /// <summary>Gets a value indicating whether the job calls <see cref="IShutdowner.Shutdown"/> with the error when a run fails.</summary>
    /// <value>The default is <see langword="false"/>: a failed run is logged and reported, and the timer keeps running.</value>
    public bool ShutdownOnError { get; init; }

    /// <summary>
    /// Gets a value indicating whether the job runs once right after it starts, then on its
    /// schedule (interval or cron). With an interval, that run starts the first interval.
    /// </summary>
    /// <value>The default is <see langword="false"/>: the first run is one interval after start, or at the first cron occurrence.</value>
    public bool RunAtStart { get; init; }

    /// <summary>
    /// Gets how long one run may take. When it expires, the run's token is cancelled and the run
    /// fails with a <see cref="TimeoutException"/>: it is logged, counted and reported
    /// <see cref="HealthLevel.Degraded"/> like any failed run, once the function has returned,
    /// and the timer goes on with its next run. A run cut by the group's stop is a cancellation.
    /// </summary>
    /// <value>The default is <see langword="null"/>: no timeout.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is shorter than a millisecond (timers count whole milliseconds), or longer than a timer can wait (about 49 days).</exception>
    public TimeSpan? RunTimeout
    {
        get => _runTimeout;
        init
        {
            if (value is { } timeout)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.FromMilliseconds(1), nameof(RunTimeout));
                ArgumentOutOfRangeException.ThrowIfGreaterThan(timeout, Timers.MaxDelay, nameof(RunTimeout));
            }

            _runTimeout = value;
        }
    }

    /// <summary>Gets the options used when none are given.</summary>
    internal static TimerOptions Default { get; } = new();
}
