namespace Jobs.Dataflow;

/// <summary>An immutable copy of one health scope and its children, taken by <see cref="HealthTree.Snapshot"/>.</summary>
/// <param name="Name">The scope's name.</param>
/// <param name="Level">The last level reported.</param>
/// <param name="Message">The last message reported.</param>
/// <param name="Error">The exception of the last <see cref="IHealth.Degraded"/> report, while the scope stays degraded.</param>
/// <param name="LastChanged">When the scope last reported, from the tree's <see cref="TimeProvider"/>.</param>
/// <param name="Children">The child scopes, in the order they were created.</param>
public sealed record HealthStatus(
    string Name,
    HealthLevel Level,
    string Message,
    Exception? Error,
    DateTimeOffset LastChanged,
    IReadOnlyList<HealthStatus> Children)
{
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
