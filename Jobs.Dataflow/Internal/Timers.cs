namespace Jobs.Dataflow;

/// <summary>Limits of the platform's timers, which every delay and interval of the library goes through.</summary>
internal static class Timers
{
    /// <summary>The longest a <see cref="TimeProvider"/> timer or <c>Task.Delay</c> can wait: about 49.7 days.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// The shortest interval a timer job takes: a platform timer counts whole milliseconds, and one
    /// asked for less fires at once, so a shorter interval would run the job in a busy loop.
    /// </summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Rounds a wait for a moment up to whole milliseconds, at most <see cref="MaxDelay"/>. A
    /// platform timer truncates to whole milliseconds and so wakes up to one early; a timer that
    /// then re-arms for what is left, less than a millisecond, fires at once, again and again until
    /// the moment: a busy loop. Rounded up, it wakes at the moment or just after it.
    /// </summary>
    /// <param name="delay">The wait; zero or less is zero.</param>
    /// <returns>The wait in whole milliseconds.</returns>
    public static TimeSpan RoundUpToMilliseconds(TimeSpan delay)
    {
        // Stryker disable once Equality : zero rounds to zero either way.
        if (delay <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        long ms = (long)Math.Ceiling(delay.TotalMilliseconds);

        // Stryker disable once Equality : at exactly the longest wait, FromMilliseconds(ms) is MaxDelay itself.
        return ms >= MaxDelay.TotalMilliseconds ? MaxDelay : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>Throws when <paramref name="interval"/> is positive but shorter than <see cref="MinInterval"/>.</summary>
    /// <param name="interval">The interval.</param>
    /// <param name="paramName">The name of the parameter that gave it.</param>
    public static void ThrowIfUnderMinInterval(TimeSpan interval, string paramName)
    {
        if (interval != TimeSpan.Zero)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(interval, MinInterval, paramName);
        }
    }
}
