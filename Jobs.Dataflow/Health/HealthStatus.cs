using System.Text;

namespace Jobs.Dataflow;

/// <summary>An immutable copy of one health scope and its children, taken by <see cref="HealthTree.Snapshot"/>.</summary>
/// <param name="Name">The scope's name.</param>
/// <param name="Level">The last level reported.</param>
/// <param name="Message">The last message reported.</param>
/// <param name="Error">The exception of the last <see cref="IHealth.Degraded"/> or <see cref="IHealth.Failed"/> report, while the scope stays at that level.</param>
/// <param name="LastChanged">When the scope last reported (when it was created, if it never did), on the tree's <see cref="TimeProvider"/>: the time of the snapshot less how long ago that was.</param>
/// <param name="Children">The child scopes, in the order they were created.</param>
public sealed record HealthStatus(
    string Name,
    HealthLevel Level,
    string Message,
    Exception? Error,
    DateTimeOffset LastChanged,
    IReadOnlyList<HealthStatus> Children)
{
    /// <summary>
    /// Gets the worst level of this scope and every scope below it, from the worst:
    /// <see cref="HealthLevel.Failed"/>, <see cref="HealthLevel.Degraded"/>, <see cref="HealthLevel.Stopped"/>,
    /// <see cref="HealthLevel.Ok"/>, <see cref="HealthLevel.Unknown"/>. A root that never reported
    /// itself is thus <see cref="HealthLevel.Degraded"/> overall when one of its jobs is.
    /// </summary>
    public HealthLevel Overall
    {
        get
        {
            HealthLevel worst = Level;
            foreach (HealthStatus child in Children)
            {
                HealthLevel level = child.Overall;

                // Stryker disable once Equality : levels of equal severity are one level, so keeping the first or the last is the same.
                if (Severity(level) > Severity(worst))
                {
                    worst = level;
                }
            }

            return worst;
        }
    }

    /// <summary>Descends the tree by child names.</summary>
    /// <param name="path">The names of the scopes to descend through, starting with a child of this scope.</param>
    /// <returns>The scope at the end of the path, this scope for an empty path, or <see langword="null"/> when any name is absent.</returns>
    public HealthStatus? Find(params string[] path)
    {
        ArgumentNullException.ThrowIfNull(path);

        HealthStatus? current = this;
        foreach (string name in path)
        {
            current = FindChild(current, name);
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>
    /// Prints the tree, one line per scope, indented two spaces per level:
    /// <c>name: Level message</c>, followed by <c>(ExceptionType: message)</c> when the scope has an error.
    /// </summary>
    /// <returns>The tree as text; lines end with <c>\n</c>.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        Append(text, this, depth: 0);
        return text.ToString();
    }

    private static int Severity(HealthLevel level) => level switch
    {
        HealthLevel.Failed => 4,
        HealthLevel.Degraded => 3,
        HealthLevel.Stopped => 2,
        HealthLevel.Ok => 1,
        _ => 0,
    };

    private static void Append(StringBuilder text, HealthStatus status, int depth)
    {
        text.Append(' ', depth * 2).Append(status.Name).Append(": ").Append(status.Level);
        if (status.Message.Length > 0)
        {
            text.Append(' ');
            AppendOneLine(text, status.Message);
        }

        if (status.Error is { } error)
        {
            text.Append(" (").Append(error.GetType().Name).Append(": ");
            AppendOneLine(text, error.Message);
            text.Append(')');
        }

        text.Append('\n');
        foreach (HealthStatus child in status.Children)
        {
            Append(text, child, depth + 1);
        }
    }

    // A message with line breaks (an exception's, often) would break the one-line-per-scope layout.
    private static void AppendOneLine(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            text.Append(c is '\r' or '\n' ? ' ' : c);
        }
    }

    private static HealthStatus? FindChild(HealthStatus parent, string name)
    {
        foreach (HealthStatus child in parent.Children)
        {
            if (string.Equals(child.Name, name, StringComparison.Ordinal))
            {
                return child;
            }
        }

        return null;
    }
}
