using System.Globalization;

namespace Jobs.Dataflow;

/// <summary>Formats durations for health messages and logs the short way Go does: <c>850µs</c>, <c>12.5ms</c>, <c>3.2s</c>, <c>1m30s</c>.</summary>
internal static class Durations
{
    // Longer than any duration this writes ("-2562047h47m16.85s" is 18 characters).
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

        int written;
        if (duration < TimeSpan.FromMilliseconds(1))
        {
            destination.TryWrite(c, $"{duration.TotalMicroseconds:0.#}µs", out written);
        }
        else if (duration < TimeSpan.FromSeconds(1))
        {
            destination.TryWrite(c, $"{duration.TotalMilliseconds:0.#}ms", out written);
        }
        else if (duration < TimeSpan.FromMinutes(1))
        {
            destination.TryWrite(c, $"{duration.TotalSeconds:0.##}s", out written);
        }
        else
        {
            int hours = (int)duration.TotalHours;
            double seconds = duration.TotalSeconds % 60;
            _ = hours > 0
                ? destination.TryWrite(c, $"{hours}h{duration.Minutes}m{seconds:0.##}s", out written)
                : destination.TryWrite(c, $"{duration.Minutes}m{seconds:0.##}s", out written);
        }

        return written;
    }
}
