namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A thread-safe list of what a test double saw (log entries, health reports), that lets a test
/// wait for an entry instead of polling: <see cref="WaitForAsync"/> completes with the first entry,
/// already recorded or still to come, that matches.
/// </summary>
/// <typeparam name="T">The type of the entries.</typeparam>
internal sealed class Recorder<T>
    where T : class
{
    private readonly Lock _lock = new();
    private readonly List<T> _entries = [];
    private readonly List<(Func<T, bool> Predicate, TaskCompletionSource<T> Source)> _waiters = [];

    public IReadOnlyList<T> Snapshot()
    {
        lock (_lock)
        {
            return [.. _entries];
        }
    }

    public void Add(T entry)
    {
        lock (_lock)
        {
            _entries.Add(entry);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Predicate(entry))
                {
                    _waiters[i].Source.TrySetResult(entry);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Waits, with the suite's hang guard, for an entry that matches.</summary>
    public Task<T> WaitForAsync(Func<T, bool> predicate)
    {
        var source = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            foreach (T entry in _entries)
            {
                if (predicate(entry))
                {
                    return Task.FromResult(entry);
                }
            }

            _waiters.Add((predicate, source));
        }

        return source.Task.OrTimeout();
    }
}
