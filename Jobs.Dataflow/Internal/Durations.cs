using System.Globalization;

namespace Jobs.Dataflow.Internal;

/// <summary>Formats durations for health messages and logs the short way Go does: <c>850µs</c>, <c>12.5ms</c>, <c>3.2s</c>, <c>1m30s</c>.</summary>
internal static class Durations
{
    public static string Format(TimeSpan duration)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        if (duration < TimeSpan.Zero)
        {
            return "-" + Format(duration.Negate());
        }

        if (duration < TimeSpan.FromMilliseconds(1))
        {
            return duration.TotalMicroseconds.ToString("0.#", c) + "µs";
        }

        if (duration < TimeSpan.FromSeconds(1))
        {
            return duration.TotalMilliseconds.ToString("0.#", c) + "ms";
        }

        if (duration < TimeSpan.FromMinutes(1))
        {
            return duration.TotalSeconds.ToString("0.##", c) + "s";
        }

        int hours = (int)duration.TotalHours;
        string seconds = (duration.TotalSeconds % 60).ToString("0.##", c);
        return hours > 0
            ? string.Create(c, $"{hours}h{duration.Minutes}m{seconds}s")
            : string.Create(c, $"{duration.Minutes}m{seconds}s");
    }
}
