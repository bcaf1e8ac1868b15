using System.Globalization;

namespace Jobs.Dataflow;

/// <summary>Formats durations for health messages and logs the short way Go does: <c>850µs</c>, <c>12.5ms</c>, <c>3.2s</c>, <c>1m30s</c>.</summary>
internal static class Durations
{
    // Longer than any duration this writes ("-256204778h48m5.48s", TimeSpan.MinValue, is 19 characters).
    private const int MaxLength = 32;

    /// <summary>
    /// Clamps an elapsed time to zero: a <see cref="TimeProvider"/> whose clock steps back (a
    /// custom one, or a test's) gives negative differences, which no window or metric may use.
    /// </summary>
    public static TimeSpan NotNegative(TimeSpan elapsed) => TimeSpan.FromTicks(Math.Max(0, elapsed.Ticks));

    public static string Format(TimeSpan duration)
    {
        Span<char> buffer = stackalloc char[MaxLength];
        return new string(buffer[..Write(duration, buffer)]);
    }

    /// <summary>
    /// Formats a health message <c>LABEL (DURATION)</c>, such as <c>Finished (1.2ms)</c>, as one
    /// string: one allocation, not three.
    /// </summary>
    public static string Format(string label, TimeSpan duration)
    {
        Span<char> buffer = stackalloc char[MaxLength];
        int length = Write(duration, buffer);
        return string.Concat(label.AsSpan(), " (", buffer[..length], ")");
    }

    private static int Write(TimeSpan duration, Span<char> destination)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        if (duration < TimeSpan.Zero)
        {
            destination[0] = '-';
            return 1 + Write(duration.Negate(), destination[1..]);
        }

        // Each unit is written to the precision its format shows, and the unit is chosen after
        // rounding to it: 999.96ms is 1s, not "1000ms", and 119.996s is 2m0s, not "1m60s".
        // Microseconds need no rounding: a tick is 0.1µs.
        int written;
        TimeSpan milliseconds = RoundTo(duration, TimeSpan.TicksPerMillisecond / 10);
        TimeSpan seconds = RoundTo(duration, TimeSpan.TicksPerMillisecond * 10);
        if (duration < TimeSpan.FromMilliseconds(1))
        {
            destination.TryWrite(c, $"{duration.TotalMicroseconds:0.#}µs", out written);
        }
        else if (milliseconds < TimeSpan.FromSeconds(1))
        {
            destination.TryWrite(c, $"{milliseconds.TotalMilliseconds:0.#}ms", out written);
        }
        else if (seconds < TimeSpan.FromMinutes(1))
        {
            destination.TryWrite(c, $"{seconds.TotalSeconds:0.##}s", out written);
        }
        else
        {
            int hours = (int)seconds.TotalHours;
            double secondsOfMinute = seconds.TotalSeconds % 60;
            _ = hours > 0
                ? destination.TryWrite(c, $"{hours}h{seconds.Minutes}m{secondsOfMinute:0.##}s", out written)
                : destination.TryWrite(c, $"{seconds.Minutes}m{secondsOfMinute:0.##}s", out written);
        }

        return written;
    }

    /// <summary>Rounds a duration that is not negative to a whole number of <paramref name="unit"/> ticks, half up; one too long to round up is rounded down.</summary>
    private static TimeSpan RoundTo(TimeSpan duration, long unit)
    {
        long units = Math.DivRem(duration.Ticks, unit, out long remainder);
        if (remainder * 2 >= unit && units < (long.MaxValue / unit))
        {
            units++;
        }

        return TimeSpan.FromTicks(units * unit);
    }
}
