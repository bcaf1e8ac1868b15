using System.Text;

namespace Jobs.Dataflow.Samples;

/// <summary>Renders a health snapshot as an indented tree.</summary>
internal static class HealthPrinter
{
    public static string Format(HealthStatus status)
    {
        var text = new StringBuilder();
        Append(text, status, depth: 0);
        return text.ToString();
    }

    private static void Append(StringBuilder text, HealthStatus status, int depth)
    {
        text.Append(' ', depth * 2).Append(status.Name).Append(": ").Append(status.Level);
        if (status.Message.Length > 0)
        {
            text.Append(" \"").Append(status.Message).Append('"');
        }

        if (status.Error is not null)
        {
            text.Append(" (").Append(status.Error.Message).Append(')');
        }

        text.AppendLine();
        foreach (HealthStatus child in status.Children)
        {
            Append(text, child, depth + 1);
        }
    }
}
