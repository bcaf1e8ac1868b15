namespace Jobs.Dataflow;

/// <summary>
/// A thread-safe, in-memory tree of health scopes; the default <see cref="IHealth"/>.
/// </summary>
/// <remarks>
/// A <see cref="Snapshot"/> never shows a scope whose parent was closed before it began, and copies
/// each scope's report whole, never half of one. Reports to different scopes, and the closing of
/// scopes without children (a job's), do not wait for each other or for a snapshot, so a snapshot
/// taken while two scopes report, or close, may show the later state of one and the earlier of the
/// other.
/// </remarks>
public sealed class HealthTree : IHealth
{
    private readonly HealthNode _root;

    /// <summary>Initializes a new instance of the <see cref="HealthTree"/> class.</summary>
    /// <param name="name">The name of the root scope.</param>
    /// <param name="timeProvider">
    /// The clock for <see cref="HealthStatus.LastChanged"/>; <see cref="TimeProvider.System"/> when
    /// <see langword="null"/>. Reports are stamped with its timestamps (<see cref="TimeProvider.GetTimestamp"/>),
    /// which are cheaper to read than the time of day, and a snapshot turns them into times of day by
    /// its own <see cref="TimeProvider.GetUtcNow"/>: a change of the system's time moves every
    /// <see cref="HealthStatus.LastChanged"/> with it, and never puts one after the snapshot.
    /// </param>
    public HealthTree(string name = "root", TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        TimeProvider = timeProvider ?? TimeProvider.System;
        _root = new HealthNode(name, parent: null, this, TimeProvider.GetTimestamp());
    }

    /// <summary>Gets the lock that guards the shape of the tree: which scopes there are, and which are closed.</summary>
    internal Lock SyncRoot { get; } = new();

    /// <summary>Gets the root scope: what the tree's own reports go to, and the parent of the scopes created on it.</summary>
    internal HealthNode Root => _root;

    /// <summary>Gets the clock of <see cref="HealthStatus.LastChanged"/>.</summary>
    internal TimeProvider TimeProvider { get; }

    /// <summary>Gets the number of scopes the root holds, closed ones not yet dropped included.</summary>
    internal int RetainedScopes => _root.RetainedChildren;

    /// <inheritdoc/>
    public void Ok(string status) => _root.Ok(status);

    /// <inheritdoc/>
    public void Stopped(string reason) => _root.Stopped(reason);

    /// <inheritdoc/>
    public void Degraded(string reason, Exception? error) => _root.Degraded(reason, error);

    /// <inheritdoc/>
    public void Failed(string reason, Exception? error) => _root.Failed(reason, error);

    /// <inheritdoc/>
    public IHealth NewScope(string name) => new HealthScope(_root.NewChild(name));

    /// <summary>Removes every child scope of the root. The root itself stays and keeps reporting.</summary>
    public void Close() => _root.CloseChildren();

    /// <summary>Takes a consistent copy of the whole tree.</summary>
    /// <returns>The root scope and, recursively, its children.</returns>
    public HealthStatus Snapshot() => _root.Snapshot();
}
