namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// A health root that completes a task once a given number of jobs reported a status. Every scope
/// is the root itself, so the benchmarks measure the library and not a health tree.
/// </summary>
public sealed class PrimedCounter : IHealth
{
    private readonly string _status;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _remaining;

    public PrimedCounter(int expected, string status = "Primed")
    {
        _remaining = expected;
        _status = status;
    }

    public Task Done => _done.Task;

    public void Ok(string status)
    {
        if (status.StartsWith(_status, StringComparison.Ordinal) && Interlocked.Decrement(ref _remaining) == 0)
        {
            _done.TrySetResult();
        }
    }

    public void Stopped(string reason)
    {
    }

    public void Degraded(string reason, Exception? error)
    {
    }

    public IHealth NewScope(string name) => this;

    public void Close()
    {
    }
}
