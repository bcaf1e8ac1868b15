namespace Jobs.Dataflow;

/// <summary>Options of a one-shot job: retries, backoff, a timeout per attempt, and shutdown on error.</summary>
public sealed class OneShotOptions
{
    private readonly int _retries;
    private readonly TimeSpan? _attemptTimeout;

    /// <summary>Gets how many times a failed attempt is retried: <c>0</c> never, <c>N</c> up to N times (at most N + 1 attempts), <c>-1</c> forever.</summary>
    /// <value>The default is 0.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is below -1.</exception>
    public int Retries
    {
        get => _retries;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, -1, nameof(Retries));
            _retries = value;
        }
    }

    /// <summary>Gets the wait before each retry.</summary>
    /// <value>The default is <see langword="null"/>: retry at once.</value>
    public IRetryBackoff? Backoff { get; init; }

    /// <summary>Gets a value indicating whether the job calls <see cref="IShutdowner.Shutdown"/> with the error after its last attempt failed.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool ShutdownOnError { get; init; }

    /// <summary>
    /// Gets how long one attempt may take. When it expires, the attempt's token is cancelled and
    /// the attempt fails with a <see cref="TimeoutException"/>: it is logged, counted, reported
    /// <see cref="HealthLevel.Degraded"/> and retried like any failed attempt, once the function
    /// has returned. An attempt cut by the group's stop is a cancellation, never retried.
    /// </summary>
    /// <value>The default is <see langword="null"/>: no timeout.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is shorter than a millisecond (timers count whole milliseconds), or longer than a timer can wait (about 49 days).</exception>
    public TimeSpan? AttemptTimeout
    {
        get => _attemptTimeout;
        init
        {
            if (value is { } timeout)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.FromMilliseconds(1), nameof(AttemptTimeout));
                ArgumentOutOfRangeException.ThrowIfGreaterThan(timeout, Timers.MaxDelay, nameof(AttemptTimeout));
            }

            _attemptTimeout = value;
        }
    }

    /// <summary>Gets the options used when none are given.</summary>
    internal static OneShotOptions Default { get; } = new();
}
