namespace Jobs.Dataflow;

/// <summary>
/// Doubles the wait with every retry: <c>min</c>, <c>2 * min</c>, <c>4 * min</c>, ... capped at
/// <c>max</c>, optionally spread by a random jitter.
/// </summary>
public sealed class ExponentialBackoff : IRetryBackoff
{
    private readonly TimeSpan _min;
    private readonly TimeSpan _max;
    private readonly double _jitter;
    private readonly Func<double> _random = Random.Shared.NextDouble;

    /// <summary>Initializes a new instance of the <see cref="ExponentialBackoff"/> class.</summary>
    /// <param name="min">The wait before the first retry.</param>
    /// <param name="max">The longest wait.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="min"/> is negative, or greater than <paramref name="max"/>.</exception>
    public ExponentialBackoff(TimeSpan min, TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(min, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(min, max);
        _min = min;
        _max = max;
    }

    /// <summary>Gets the random spread of each delay, as a fraction: <c>0.2</c> spreads it by up to 20 % either way, never below <c>min</c> nor past <c>max</c>.</summary>
    /// <value>The default is 0: exact delays.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside [0, 1].</exception>
    public double Jitter
    {
        get => _jitter;
        init
        {
            if (!(value >= 0 && value <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(Jitter), value, "Jitter must lie in [0, 1].");
            }

            _jitter = value;
        }
    }

    /// <summary>Gets the source of randomness for <see cref="Jitter"/>: a function that returns a value in [0, 1). Tests pin it.</summary>
    /// <value>The default is <see cref="Random.Shared"/>'s <see cref="Random.NextDouble"/>.</value>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public Func<double> RandomSource
    {
        get => _random;
        init
        {
            ArgumentNullException.ThrowIfNull(value, nameof(RandomSource));
            _random = value;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is below 1.</exception>
    public TimeSpan GetDelay(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);

        TimeSpan delay = Double(_min, attempt - 1);
        if (_jitter == 0)
        {
            return delay;
        }

        // Spread over delay * (1 +- jitter), cut to [min, max] first and then drawn from evenly:
        // clamping a draw instead would put every draw below min on min itself, so half of the
        // first retries of many clients would still come at one instant.
        double low = Math.Max(_min.Ticks, delay.Ticks * (1 - _jitter));
        double high = Math.Min(_max.Ticks, delay.Ticks * (1 + _jitter));
        double ticks = low + (Math.Clamp(_random(), 0, 1) * (high - low));

        // Clamped as whole ticks: a double cannot hold every tick count past 2^53, so a bound
        // converted to double may lie a tick outside the range. A NaN draw converts to zero, so min.
        return TimeSpan.FromTicks(Math.Clamp((long)ticks, _min.Ticks, _max.Ticks));
    }

    /// <summary>Computes <c>min * 2^doublings</c> capped at max, without ever overflowing.</summary>
    private TimeSpan Double(TimeSpan min, int doublings)
    {
        if (min == TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        // min.Ticks << doublings fits under max exactly when min.Ticks <= max.Ticks >> doublings.
        if (doublings >= 63 || min.Ticks > (_max.Ticks >> doublings))
        {
            return _max;
        }

        return TimeSpan.FromTicks(min.Ticks << doublings);
    }
}
