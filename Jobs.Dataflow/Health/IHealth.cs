namespace Jobs.Dataflow;

/// <summary>
/// Reports the health of one scope of a service. Scopes form a tree: a group reports under the
/// scope it was given, and each job under a child scope of its own.
/// </summary>
/// <remarks>
/// Implementations must be thread-safe: jobs report from any thread. The jobs guard every call:
/// an implementation that throws is logged, and the job goes on.
/// </remarks>
public interface IHealth
{
    /// <summary>Reports that the scope works.</summary>
    /// <param name="status">A short description of what the scope is doing.</param>
    void Ok(string status);

    /// <summary>Reports that the scope has stopped on purpose, or that its work is done.</summary>
    /// <param name="reason">Why it stopped.</param>
    void Stopped(string reason);

    /// <summary>Reports that the scope works but something went wrong.</summary>
    /// <param name="reason">What went wrong.</param>
    /// <param name="error">The exception behind it, if any.</param>
    void Degraded(string reason, Exception? error);

    /// <summary>
    /// Reports that the scope ended with an error and will not run again: a one-shot job that used
    /// up its retries, an observer whose source faulted.
    /// </summary>
    /// <param name="reason">What went wrong.</param>
    /// <param name="error">The exception behind it, if any.</param>
    /// <remarks>The default implementation reports <see cref="Degraded"/>, so implementations written before this member keep working.</remarks>
    void Failed(string reason, Exception? error) => Degraded(reason, error);

    /// <summary>Creates a child scope.</summary>
    /// <param name="name">The child's name, unique among its siblings by convention.</param>
    /// <returns>The child scope, with level <see cref="HealthLevel.Unknown"/>.</returns>
    IHealth NewScope(string name);

    /// <summary>Removes this scope and its children from the tree. Later reports to it are ignored.</summary>
    void Close();
}
