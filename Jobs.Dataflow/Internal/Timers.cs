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
