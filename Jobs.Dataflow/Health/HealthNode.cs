using System.Diagnostics;

namespace Jobs.Dataflow;

/// <summary>One scope of a <see cref="HealthTree"/>. Every node of a tree shares the tree's lock.</summary>
/// <remarks>
/// Every job of a group has a scope here, so a node is kept small: nothing for children until it
/// has one, and the tree's lock and clock are read from the tree.
/// </remarks>
internal sealed class HealthNode : IHealth
{
    // Closed children stay in the list until more than half of it is closed: closing a scope is
    // then O(1) amortized, and a group that closes thousands of job scopes at stop does not pay
    // a List.Remove (a scan and a shift) for each.
    private const int CompactThreshold = 8;

    private readonly HealthNode? _parent;
    private readonly HealthTree _tree;

    // Made with the first child: most scopes (every job's) have none.
    private ChildScopes? _children;
    private HealthLevel _level = HealthLevel.Unknown;
    private bool _closed;

    // With a duration, the message is the label of "LABEL (DURATION)", formatted when first read
    // (see OkWithDuration).
    private bool _messageHasDuration;
    private string _message = string.Empty;
    private TimeSpan _messageDuration;
    private Exception? _error;

    // A timestamp of the tree's clock, not a time of day: a report reads the cheaper of the two
    // clocks (or is handed a timestamp its job read anyway), and a snapshot turns it into a time
    // of day by subtracting its age from the time of the snapshot (see SnapshotLocked).
    private long _changedAt;

    /// <summary>Initializes a new instance of the <see cref="HealthNode"/> class.</summary>
    /// <param name="name">The scope's name.</param>
    /// <param name="parent">The parent scope; <see langword="null"/> for the root.</param>
    /// <param name="tree">The tree: its lock guards every node, and its clock stamps every report.</param>
    public HealthNode(string name, HealthNode? parent, HealthTree tree)
    {
        Name = name;
        _parent = parent;
        _tree = tree;
        _changedAt = tree.TimeProvider.GetTimestamp();
    }

    public string Name { get; }

    /// <summary>Gets the tree's clock: a report stamped with a timestamp of another clock would be read wrong.</summary>
    internal TimeProvider Clock => _tree.TimeProvider;

    /// <summary>Gets the number of child scopes the node holds, closed ones not yet dropped included: what its memory grows with.</summary>
    internal int RetainedChildren
    {
        get
        {
            lock (_tree.SyncRoot)
            {
                return _children?.Nodes.Count ?? 0;
            }
        }
    }

    public void Ok(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        Report(HealthLevel.Ok, status, error: null);
    }

    /// <summary>Reports <c>Ok(status)</c> as of <paramref name="timestamp"/>, a timestamp of <see cref="Clock"/> that the caller read anyway.</summary>
    /// <param name="status">The status.</param>
    /// <param name="timestamp">When it changed, from <see cref="TimeProvider.GetTimestamp"/> of <see cref="Clock"/>.</param>
    public void Ok(string status, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(status);
        Report(HealthLevel.Ok, status, error: null, duration: null, timestamp);
    }

    public void Stopped(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Report(HealthLevel.Stopped, reason, error: null);
    }

    public void Degraded(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Report(HealthLevel.Degraded, reason, error);
    }

    public void Failed(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Report(HealthLevel.Failed, reason, error);
    }

    /// <summary>
    /// Reports <c>Ok("LABEL (DURATION)")</c>, formatted when a snapshot first reads it: a job
    /// reports its duration after every run, and most of these messages are replaced or closed
    /// before anyone reads them.
    /// </summary>
    /// <param name="label">What the duration measured, such as <c>Finished</c>.</param>
    /// <param name="duration">The duration.</param>
    public void OkWithDuration(string label, TimeSpan duration) => OkWithDuration(label, duration, _tree.TimeProvider.GetTimestamp());

    /// <summary>Reports <c>Ok("LABEL (DURATION)")</c> as of <paramref name="timestamp"/>, a timestamp of <see cref="Clock"/> that the caller read anyway.</summary>
    /// <param name="label">What the duration measured, such as <c>Finished</c>.</param>
    /// <param name="duration">The duration.</param>
    /// <param name="timestamp">When it ended, from <see cref="TimeProvider.GetTimestamp"/> of <see cref="Clock"/>.</param>
    public void OkWithDuration(string label, TimeSpan duration, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(label);
        Report(HealthLevel.Ok, label, error: null, duration, timestamp);
    }

    public IHealth NewScope(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var child = new HealthNode(name, this, _tree);
        lock (_tree.SyncRoot)
        {
            // A scope created under a closed parent is born closed: it can never show up in the tree.
            child._closed = _closed;
            if (!_closed)
            {
                (_children ??= new()).Nodes.Add(child);
            }
        }

        return child;
    }

    public void Close()
    {
        lock (_tree.SyncRoot)
        {
            if (_closed)
            {
                return;
            }

            MarkClosed();
            _parent?.ChildClosedLocked();
        }
    }

    public void CloseChildren()
    {
        lock (_tree.SyncRoot)
        {
            if (_children is null)
            {
                return;
            }

            foreach (HealthNode child in _children.Nodes)
            {
                child.MarkClosed();
            }

            _children.Nodes.Clear();
            _children.Closed = 0;
        }
    }

    public HealthStatus Snapshot()
    {
        TimeProvider clock = _tree.TimeProvider;
        lock (_tree.SyncRoot)
        {
            return SnapshotLocked(new DateTimeOffset(clock.GetUtcNow().UtcDateTime), clock.GetTimestamp());
        }
    }

    private void Report(HealthLevel level, string message, Exception? error) =>
        Report(level, message, error, duration: null, _tree.TimeProvider.GetTimestamp());

    private void Report(HealthLevel level, string message, Exception? error, TimeSpan? duration, long timestamp)
    {
        lock (_tree.SyncRoot)
        {
            if (_closed)
            {
                return;
            }

            _level = level;
            _message = message;
            _messageHasDuration = duration.HasValue;
            _messageDuration = duration.GetValueOrDefault();
            _error = error;
            _changedAt = timestamp;
        }
    }

    /// <summary>Gets the message, formatting a pending <c>LABEL (DURATION)</c> once; under the tree's lock.</summary>
    private string MessageLocked()
    {
        Debug.Assert(_tree.SyncRoot.IsHeldByCurrentThread, "The tree lock must be held.");
        if (_messageHasDuration)
        {
            _message = Durations.Format(_message, _messageDuration);
            _messageHasDuration = false;
        }

        return _message;
    }

    private void ChildClosedLocked()
    {
        Debug.Assert(_tree.SyncRoot.IsHeldByCurrentThread, "The tree lock must be held.");
        ChildScopes children = _children!;
        children.Closed++;

        // Stryker disable once Equality : when to compact is a matter of cost; the snapshot skips closed scopes either way, and a test bounds what is kept.
        if (children.Closed >= CompactThreshold && children.Closed * 2 > children.Nodes.Count)
        {
            children.Nodes.RemoveAll(static child => child._closed);
            children.Closed = 0;
        }
    }

    private void MarkClosed()
    {
        Debug.Assert(_tree.SyncRoot.IsHeldByCurrentThread, "The tree lock must be held.");
        _closed = true;
        if (_children is null)
        {
            return;
        }

        foreach (HealthNode child in _children.Nodes)
        {
            // Stryker disable once Statement : the descendants of a closed scope leave the snapshot with it; marking them only stops storing their later reports.
            child.MarkClosed();
        }
    }

    /// <summary>Copies the scope and its open descendants; under the tree's lock.</summary>
    /// <param name="now">The time of the snapshot, from the tree's clock.</param>
    /// <param name="nowTimestamp">The timestamp of the snapshot, from the tree's clock.</param>
    private HealthStatus SnapshotLocked(DateTimeOffset now, long nowTimestamp)
    {
        // Stryker disable once Conditional,Arithmetic : a capacity hint; the list grows as needed.
        var children = new List<HealthStatus>(_children is null ? 0 : _children.Nodes.Count - _children.Closed);
        foreach (HealthNode child in _children?.Nodes ?? [])
        {
            if (!child._closed)
            {
                children.Add(child.SnapshotLocked(now, nowTimestamp));
            }
        }

        // A report is never later than the snapshot that holds the lock after it; the clamp only
        // guards against a clock whose timestamps run backwards.
        DateTimeOffset changed = now - Durations.NotNegative(_tree.TimeProvider.GetElapsedTime(_changedAt, nowTimestamp));
        return new HealthStatus(Name, _level, MessageLocked(), _error, changed, children);
    }

    /// <summary>
    /// A scope's children, in the order they were created, and how many of them are closed (they
    /// stay in the list until more than half of it is). Only scopes with children have one, so a
    /// job's scope pays for neither.
    /// </summary>
    private sealed class ChildScopes
    {
        public List<HealthNode> Nodes { get; } = [];

        public int Closed { get; set; }
    }
}
