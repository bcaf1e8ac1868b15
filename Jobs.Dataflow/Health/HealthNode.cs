using System.Diagnostics;

namespace Jobs.Dataflow;

/// <summary>
/// One scope of a <see cref="HealthTree"/>. The tree's lock guards the shape of the tree (which
/// scopes there are); each node guards its own report with a spin lock of its own.
/// </summary>
/// <remarks>
/// <para>
/// Every job of a group has a scope here, so a node is kept small: nothing for children until it
/// has one, and the tree's clock is read from the tree. Jobs on many threads report to their own
/// scopes at once: one lock for the whole tree made them wait for each other (a one-shot job
/// reports twice per run). A report only copies a few fields, so a spin lock in the node guards
/// it: no lock object per scope, and no call into the runtime's monitor for each report.
/// </para>
/// <para>
/// Closing a scope without children, such as a job's, takes no lock either: it marks the scope
/// closed and counts it in its parent, and only the close that finds more than half of the
/// parent's children closed takes the tree's lock, to unlink them.
/// </para>
/// <para>
/// A snapshot holds the tree's lock, and each node's while it copies that node's report: it
/// never shows half of a report, nor a scope whose parent was closed before it began.
/// </para>
/// </remarks>
internal sealed class HealthNode : IHealth
{
    // Closed children stay in the list until more than half of it is closed: closing a scope is
    // then O(1) amortized, and a group that closes thousands of job scopes at stop does not pay
    // a search of the list for each.
    private const int CompactThreshold = 8;

    private readonly HealthNode? _parent;
    private readonly HealthTree _tree;

    // Made with the first child: most scopes (every job's) have none.
    private ChildScopes? _children;

    // The next scope of the parent's list of children; guarded by the tree's lock.
    private HealthNode? _nextSibling;

    // 1 once the scope is closed: set once, by Close without the tree's lock (see there), or under
    // it when a parent closes. A report that races the close may still land, on a node no snapshot
    // shows again.
    private int _closed;

    // Guards the report: held only to copy its few fields in or out (and, once, to format a
    // pending message), never around user code.
    private SpinLock _reportLock = new(enableThreadOwnerTracking: false);

    // The report, guarded by _reportLock.
    private HealthLevel _level = HealthLevel.Unknown;

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
    /// <param name="tree">The tree: its lock guards the shape of the tree, and its clock stamps every report.</param>
    /// <param name="createdAt">When the scope was created, a timestamp of the tree's clock.</param>
    public HealthNode(string name, HealthNode? parent, HealthTree tree, long createdAt)
    {
        Name = name;
        _parent = parent;
        _tree = tree;
        _changedAt = createdAt;
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
                return _children?.Count ?? 0;
            }
        }
    }

    /// <summary>Gets the node behind <paramref name="health"/> when it is a scope of a <see cref="HealthTree"/>, its root when it is the tree; else <see langword="null"/>.</summary>
    /// <param name="health">Any scope.</param>
    /// <returns>The node, or <see langword="null"/>.</returns>
    public static HealthNode? Of(IHealth health) => health switch
    {
        HealthNode node => node,
        HealthScope scope => scope.Node,
        HealthTree tree => tree.Root,
        _ => null,
    };

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

    /// <summary>Creates a child scope, for the library's own use: a node never reaches a caller of the public API.</summary>
    /// <param name="name">The scope's name.</param>
    /// <returns>The new scope.</returns>
    public IHealth NewScope(string name) => NewChild(name);

    /// <summary>Creates a child scope, as of now on the tree's clock.</summary>
    /// <param name="name">The scope's name.</param>
    /// <returns>The new scope.</returns>
    public HealthNode NewChild(string name) => NewChild(name, _tree.TimeProvider.GetTimestamp());

    /// <summary>
    /// Creates a child scope as of <paramref name="timestamp"/>, a timestamp of <see cref="Clock"/>
    /// the caller read anyway: a group that launches many jobs at once reads its clock once for all
    /// their scopes, not once for each.
    /// </summary>
    /// <param name="name">The scope's name.</param>
    /// <param name="timestamp">When it was created, from <see cref="TimeProvider.GetTimestamp"/> of <see cref="Clock"/>.</param>
    /// <returns>The new scope.</returns>
    public HealthNode NewChild(string name, long timestamp)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var child = new HealthNode(name, this, _tree, timestamp);
        lock (_tree.SyncRoot)
        {
            // A scope created under a closed parent is born closed: it can never show up in the tree.
            int closed = Volatile.Read(ref _closed);
            if (closed == 0 && _children is null)
            {
                // The first child: a Close racing this one (without the lock) reads _children
                // after it marks the scope closed, and this reads _closed after it publishes
                // _children, both behind a full fence, so one of the two sees the other.
                Interlocked.Exchange(ref _children, new ChildScopes());
                closed = Volatile.Read(ref _closed);
            }

            child._closed = closed;
            if (closed == 0)
            {
                _children!.Append(child);
            }
        }

        return child;
    }

    /// <summary>
    /// Closes the scope. A scope without children, such as a job's, is closed without the tree's
    /// lock: groups close one for every short job that ends, on every worker at once. The scope is
    /// closed once it is marked so; a snapshot skips it and everything below it from then on, and
    /// its descendants, if it has any, are marked under the lock.
    /// </summary>
    public void Close()
    {
        if (Interlocked.CompareExchange(ref _closed, 1, 0) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _children) is not null)
        {
            lock (_tree.SyncRoot)
            {
                MarkClosed();
            }
        }

        _parent?.ChildClosed();
    }

    public void CloseChildren()
    {
        lock (_tree.SyncRoot)
        {
            if (_children is null)
            {
                return;
            }

            for (HealthNode? child = _children.First; child is not null;)
            {
                child.MarkClosed();
                HealthNode? next = child._nextSibling;
                child._nextSibling = null;
                child = next;
            }

            _children = null;
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
        bool taken = false;
        try
        {
            _reportLock.Enter(ref taken);
            if (Volatile.Read(ref _closed) != 0)
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
        finally
        {
            if (taken)
            {
                _reportLock.Exit(useMemoryBarrier: false);
            }
        }
    }

    /// <summary>Gets the message, formatting a pending <c>LABEL (DURATION)</c> once; under the node's lock.</summary>
    private string MessageLocked()
    {
        Debug.Assert(_reportLock.IsHeld, "The node's lock must be held.");
        if (_messageHasDuration)
        {
            _message = Durations.Format(_message, _messageDuration);
            _messageHasDuration = false;
        }

        return _message;
    }

    /// <summary>Counts a child that closed, and drops the closed children once they are more than half of the list.</summary>
    private void ChildClosed()
    {
        // Read without the lock: the children may have been dropped meanwhile (the tree's Close),
        // and then nothing needs counting.
        if (Volatile.Read(ref _children) is not { } children)
        {
            return;
        }

        int closed = children.CountClosed();

        // Stryker disable once Equality : when to compact is a matter of cost; the snapshot skips closed scopes either way, and a test bounds what is kept.
        if (closed >= CompactThreshold && closed * 2 > children.Count)
        {
            lock (_tree.SyncRoot)
            {
                // Another closing child may have compacted the list meanwhile.
                // Stryker disable once Logical,Equality,Arithmetic : compacting again only costs time.
                if (children.Closed >= CompactThreshold && children.Closed * 2 > children.Count)
                {
                    children.RemoveClosed();
                }
            }
        }
    }

    private void MarkClosed()
    {
        Debug.Assert(_tree.SyncRoot.IsHeldByCurrentThread, "The tree lock must be held.");
        Volatile.Write(ref _closed, 1);
        if (_children is null)
        {
            return;
        }

        // Stryker disable once Statement,Block : the descendants of a closed scope leave the snapshot with it; marking them only stops storing their later reports.
        for (HealthNode? child = _children.First; child is not null; child = child._nextSibling)
        {
            child.MarkClosed();
        }
    }

    /// <summary>Copies the scope and its open descendants; under the tree's lock.</summary>
    /// <param name="now">The time of the snapshot, from the tree's clock.</param>
    /// <param name="nowTimestamp">The timestamp of the snapshot, from the tree's clock.</param>
    private HealthStatus SnapshotLocked(DateTimeOffset now, long nowTimestamp)
    {
        // Stryker disable once Conditional,Arithmetic : a capacity hint; the list grows as needed.
        var children = new List<HealthStatus>(_children is null ? 0 : Math.Max(0, _children.Count - _children.Closed));
        for (HealthNode? child = _children?.First; child is not null; child = child._nextSibling)
        {
            if (Volatile.Read(ref child._closed) == 0)
            {
                children.Add(child.SnapshotLocked(now, nowTimestamp));
            }
        }

        HealthLevel level;
        string message;
        Exception? error;
        long changedAt;
        bool taken = false;
        try
        {
            _reportLock.Enter(ref taken);
            level = _level;
            message = MessageLocked();
            error = _error;
            changedAt = _changedAt;
        }
        finally
        {
            if (taken)
            {
                _reportLock.Exit(useMemoryBarrier: false);
            }
        }

        // A report is never later than the snapshot that reads it; the clamp only guards against
        // a clock whose timestamps run backwards.
        DateTimeOffset changed = now - Durations.NotNegative(_tree.TimeProvider.GetElapsedTime(changedAt, nowTimestamp));
        return new HealthStatus(Name, level, message, error, changed, children);
    }

    /// <summary>
    /// A scope's children, in the order they were created, linked through the nodes themselves,
    /// and how many of them are closed (they stay linked until more than half of them are). Only
    /// scopes with children have one, so a job's scope pays for neither. A list in an array would
    /// cost a group of 10,000 short jobs arrays of up to 128 KB, on the large object heap, only
    /// collected by full collections. Guarded by the tree's lock.
    /// </summary>
    private sealed class ChildScopes
    {
        // Counted by closing children without the tree's lock (see ChildClosed), reset under it.
        private int _closed;

        public HealthNode? First { get; private set; }

        /// <summary>Gets the number of children in the list, closed ones included; changed under the tree's lock.</summary>
        public int Count { get; private set; }

        /// <summary>
        /// Gets the number of closed children in the list. It may be low for a moment: a child's
        /// close counts it after marking it, and a compaction may unlink it in between.
        /// </summary>
        public int Closed => Volatile.Read(ref _closed);

        private HealthNode? Last { get; set; }

        /// <summary>Counts a child that closed; returns the new count.</summary>
        public int CountClosed() => Interlocked.Increment(ref _closed);

        public void Append(HealthNode child)
        {
            if (Last is null)
            {
                First = child;
            }
            else
            {
                Last._nextSibling = child;
            }

            Last = child;
            Count++;
        }

        /// <summary>
        /// Unlinks closed children from the front until at most a quarter of the list is closed; an
        /// unlinked child keeps no link, so holding it keeps none of its siblings alive.
        /// </summary>
        /// <remarks>
        /// Jobs launched together end in about the order they were launched, so closed children
        /// gather at the front: the walk mostly visits children it unlinks, not the open ones
        /// behind them, which jobs and the launching thread are still using.
        /// </remarks>
        public void RemoveClosed()
        {
            // Enough that (closed - removed) * 4 <= Count - removed.
            int enough = ((4 * Closed) - Count + 2) / 3;
            int removed = 0;
            HealthNode? previous = null;
            for (HealthNode? child = First; child is not null && removed < enough;)
            {
                HealthNode? next = child._nextSibling;
                if (Volatile.Read(ref child._closed) == 0)
                {
                    previous = child;
                }
                else
                {
                    if (previous is null)
                    {
                        First = next;
                    }
                    else
                    {
                        previous._nextSibling = next;
                    }

                    if (child == Last)
                    {
                        Last = previous;
                    }

                    child._nextSibling = null;
                    removed++;
                }

                child = next;
            }

            Count -= removed;

            // Each closed child is counted once, by its own close, which may land after the walk
            // unlinked it: the count can be low for that moment, never high for long.
            Interlocked.Add(ref _closed, -removed);
        }
    }
}
