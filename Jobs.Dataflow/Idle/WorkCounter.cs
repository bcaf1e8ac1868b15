namespace Jobs.Dataflow;

/// <summary>
/// How many calls of a job's user code (a run, an attempt, a handler call, a stage's function) are
/// in flight, and which of them wait for a delay on the group's clock; kept only while a test kit
/// tracks the group (see <see cref="IdleTracker"/>).
/// </summary>
internal sealed class WorkCounter
{
    private readonly IdleTracker _tracker;
    private readonly List<Task> _delays = [];
    private long _inFlight;

    public WorkCounter(IdleTracker tracker)
    {
        _tracker = tracker;
    }

    /// <summary>Gets the calls in flight.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>
    /// Gets the calls in flight that do not wait on time: those in flight, less those waiting for
    /// a delay of the library (a stage's retry backoff) that has not elapsed. A delay that has
    /// elapsed counts as busy until its call goes on.
    /// </summary>
    public long Busy
    {
        get
        {
            int waiting = 0;
            lock (_delays)
            {
                foreach (Task delay in _delays)
                {
                    if (!delay.IsCompleted)
                    {
                        waiting++;
                    }
                }
            }

            return InFlight - waiting;
        }
    }

    /// <summary>Gets a value indicating whether a delay on the group's clock is pending (see <see cref="WaitOnTimeAsync"/>).</summary>
    public bool WaitsOnTime
    {
        get
        {
            lock (_delays)
            {
                foreach (Task delay in _delays)
                {
                    if (!delay.IsCompleted)
                    {
                        return true;
                    }
                }
            }

            return false;
        }
    }

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

    /// <summary>Awaits a delay on the group's clock (inside a call in flight, or between calls): the job waits on time meanwhile, and a test kit may advance the clock.</summary>
    /// <param name="delay">The delay.</param>
    /// <returns>A task that completes as <paramref name="delay"/> does.</returns>
    public async Task WaitOnTimeAsync(Task delay)
    {
        lock (_delays)
        {
            _delays.Add(delay);
        }

        _tracker.Touch();
        try
        {
            await delay.ConfigureAwait(false);
        }
        finally
        {
            lock (_delays)
            {
                // Stryker disable once Statement : Busy and WaitsOnTime skip a delay that has completed; only memory tells, and only in a test kit's group.
                _delays.Remove(delay);
            }

            _tracker.Touch();
        }
    }
}
