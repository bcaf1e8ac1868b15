using System.Diagnostics;

namespace Jobs.Dataflow;

/// <summary>One scope of a <see cref="HealthTree"/>. Every node of a tree shares the tree's lock.</summary>
internal sealed class HealthNode : IHealth
{
    // Closed children stay in the list until more than half of it is closed: closing a scope is
    // then O(1) amortized, and a group that closes thousands of job scopes at stop does not pay
    // a List.Remove (a scan and a shift) for each.
    private const int CompactThreshold = 8;

    private readonly HealthNode? _parent;
    private readonly object _treeLock;
    private readonly TimeProvider _timeProvider;
    private readonly List<HealthNode> _children = [];
    private int _closedChildren;
    private HealthLevel _level = HealthLevel.Unknown;
    private string _message = string.Empty;
    private Exception? _error;
    private DateTimeOffset _lastChanged;
    private bool _closed;

    public HealthNode(string name, HealthNode? parent, object treeLock, TimeProvider timeProvider)
    {
        Name = name;
        _parent = parent;
        _treeLock = treeLock;
        _timeProvider = timeProvider;
        _lastChanged = timeProvider.GetUtcNow();
    }

    public string Name { get; }

    public void Ok(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        Report(HealthLevel.Ok, status, error: null);
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

    public IHealth NewScope(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var child = new HealthNode(name, this, _treeLock, _timeProvider);
        lock (_treeLock)
        {
            // A scope created under a closed parent is born closed: it can never show up in the tree.
            child._closed = _closed;
            if (!_closed)
            {
                _children.Add(child);
            }
        }

        return child;
    }

    public void Close()
    {
        lock (_treeLock)
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
        lock (_treeLock)
        {
            foreach (HealthNode child in _children)
            {
                child.MarkClosed();
            }

            _children.Clear();
            _closedChildren = 0;
        }
    }

    public HealthStatus Snapshot()
    {
        lock (_treeLock)
        {
            return SnapshotLocked();
        }
    }

    private void Report(HealthLevel level, string message, Exception? error)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_treeLock)
        {
            if (_closed)
            {
                return;
            }

            _level = level;
            _message = message;
            _error = error;
            _lastChanged = now;
        }
    }

    private void ChildClosedLocked()
    {
        Debug.Assert(Monitor.IsEntered(_treeLock), "The tree lock must be held.");
        _closedChildren++;
        if (_closedChildren >= CompactThreshold && _closedChildren * 2 > _children.Count)
        {
            _children.RemoveAll(static child => child._closed);
            _closedChildren = 0;
        }
    }

    private void MarkClosed()
    {
        Debug.Assert(Monitor.IsEntered(_treeLock), "The tree lock must be held.");
        _closed = true;
        foreach (HealthNode child in _children)
        {
            child.MarkClosed();
        }
    }

    private HealthStatus SnapshotLocked()
    {
        var children = new List<HealthStatus>(_children.Count - _closedChildren);
        foreach (HealthNode child in _children)
        {
            if (!child._closed)
            {
                children.Add(child.SnapshotLocked());
            }
        }

        return new HealthStatus(Name, _level, _message, _error, _lastChanged, children);
    }
}
