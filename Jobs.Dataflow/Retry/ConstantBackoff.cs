namespace Jobs.Dataflow;

/// <summary>Waits the same delay before every retry.</summary>
public sealed class ConstantBackoff : IRetryBackoff
{
    private readonly TimeSpan _delay;

    /// <summary>Initializes a new instance of the <see cref="ConstantBackoff"/> class.</summary>
    /// <param name="delay">The wait before every retry.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public ConstantBackoff(TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        _delay = delay;
    }

    /// <inheritdoc/>
    public TimeSpan GetDelay(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        return _delay;
    }
}
