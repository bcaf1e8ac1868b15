namespace Jobs.Dataflow;

/// <summary>
/// How many calls of a job's user code (a run, an attempt, a handler call, a stage's function) are
/// in flight; kept only while a test kit tracks the group (see <see cref="IdleTracker"/>).
/// </summary>
internal sealed class WorkCounter
{
    private readonly IdleTracker _tracker;
    private long _inFlight;

    public WorkCounter(IdleTracker tracker)
    {
        _tracker = tracker;
    }

    /// <summary>Gets the calls in flight.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Counts a call that starts.</summary>
    public void Enter()
    {
        Interlocked.Increment(ref _inFlight);
        _tracker.Touch();
    }

    /// <summary>Counts a call that ended, however it ended.</summary>
    public void Exit()
    {
        Interlocked.Decrement(ref _inFlight);
        _tracker.Touch();
    }
}
