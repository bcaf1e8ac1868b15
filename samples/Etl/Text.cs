using System.Globalization;
using System.Text;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>Makes input text safe to show in a log line or to write as a CSV field.</summary>
internal static class Text
{
    /// <summary>How much of a field a log line shows.</summary>
    public const int EchoLength = 40;

    /// <summary>
    /// Quotes a field of the input for a log line: its first <see cref="EchoLength"/> characters
    /// only, so that a huge field cannot flood the log (see <see cref="OneLine"/>).
    /// </summary>
    public static string Echo(string value)
    {
        string echo = "\"" + OneLine(value, EchoLength) + "\"";
        return value.Length > EchoLength ? echo + string.Create(CultureInfo.InvariantCulture, $" ({value.Length:N0} characters)") : echo;
    }

    /// <summary>
    /// Returns at most <paramref name="maxLength"/> characters of <paramref name="value"/> (and
    /// <c>...</c> when cut), with control, format and surrogate characters as <c>?</c>: binary input
    /// cannot break a log line in two or play tricks on a terminal.
    /// </summary>
    public static string OneLine(string value, int maxLength)
    {
        var text = new StringBuilder(Math.Min(value.Length, maxLength) + 3);
        foreach (char c in value.AsSpan(0, Math.Min(value.Length, maxLength)))
        {
            bool unsafeChar = char.IsControl(c) || char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format;
            text.Append(unsafeChar ? '?' : c);
        }

        return value.Length > maxLength ? text.Append("...").ToString() : text.ToString();
    }

    /// <summary>Quotes a CSV field (RFC 4180): in double quotes, with its own double quotes doubled.</summary>
    public static string CsvField(string value) => "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
