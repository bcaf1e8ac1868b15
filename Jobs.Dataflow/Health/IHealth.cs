namespace Jobs.Dataflow;

/// <summary>
/// Reports the health of one scope of a service. Scopes form a tree: a group reports under the
/// scope it was given, and each job under a child scope of its own.
/// </summary>
/// <remarks>Implementations must be thread-safe: jobs report from any thread.</remarks>
public interface IHealth
{
    /// <summary>Reports that the scope works.</summary>
    /// <param name="status">A short description of what the scope is doing.</param>
    void Ok(string status);

    /// <summary>Reports that the scope has stopped on purpose.</summary>
    /// <param name="reason">Why it stopped.</param>
    void Stopped(string reason);

    /// <summary>Reports that the scope works but something went wrong.</summary>
    /// <param name="reason">What went wrong.</param>
    /// <param name="error">The exception behind it, if any.</param>
    void Degraded(string reason, Exception? error);

    /// <summary>Creates a child scope.</summary>
    /// <param name="name">The child's name, unique among its siblings by convention.</param>
    /// <returns>The child scope, with level <see cref="HealthLevel.Unknown"/>.</returns>
    IHealth NewScope(string name);

    /// <summary>Removes this scope and its children from the tree. Later reports to it are ignored.</summary>
    void Close();
}
