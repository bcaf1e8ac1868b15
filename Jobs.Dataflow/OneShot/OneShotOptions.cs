namespace Jobs.Dataflow;

/// <summary>Options of a one-shot job: retries, backoff and shutdown on error.</summary>
public sealed class OneShotOptions
{
    private readonly int _retries;

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

    /// <summary>Gets the options used when none are given.</summary>
    internal static OneShotOptions Default { get; } = new();
}
