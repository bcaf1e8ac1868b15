using System.Globalization;
using System.Text.RegularExpressions;

namespace Jobs.Dataflow.Tests.Samples;

/// <summary>How a run of the ETL sample ended: its exit code and what it printed.</summary>
internal sealed partial record EtlResult(int ExitCode, string StdOut, string StdErr)
{
    /// <summary>Gets the counts of the summary line; fails the test when there is none.</summary>
    public (long Read, long Written, long Rejected, long Dropped) Summary
    {
        get
        {
            Match match = SummaryLine().Match(StdOut);
            Assert.IsTrue(match.Success, $"No summary line in:\n{StdOut}");
            return (Count(match, 1), Count(match, 2), Count(match, 3), Count(match, 4));
        }
    }

    /// <summary>Gets the health verdict: the <c>Health check:</c> line and the entry lines under it.</summary>
    public string HealthVerdict
    {
        get
        {
            string[] lines = StdOut.Split('\n');
            int start = Array.FindIndex(lines, line => line.StartsWith("Health check: ", StringComparison.Ordinal));
            Assert.IsGreaterThanOrEqualTo(0, start, $"No health check line in:\n{StdOut}");
            return string.Join('\n', lines.Skip(start).TakeWhile((line, i) => i == 0 || line.StartsWith("  root/", StringComparison.Ordinal)));
        }
    }

    /// <summary>Gets the number of <c>Rejected line N</c> log lines.</summary>
    public int RejectedLogLines => RejectedLogLine().Count(StdOut);

    /// <summary>Gets the non-empty lines of standard error.</summary>
    public string[] ErrorLines => StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit code {ExitCode}\n--- stdout:\n{Tail(StdOut)}\n--- stderr:\n{Tail(StdErr)}";

    private static string Tail(string text) => text.Length <= 4000 ? text : "..." + text[^4000..];

    private static long Count(Match match, int group) =>
        long.Parse(match.Groups[group].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^Summary: ([\d,]+) records read, ([\d,]+) written, ([\d,]+) rejected, ([\d,]+) dropped\.$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"Rejected line \d+: ")]
    private static partial Regex RejectedLogLine();
}
