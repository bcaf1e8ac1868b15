namespace Jobs.Dataflow;

/// <summary>
/// The runs a group's stop must wait for: an intrusive doubly linked list through
/// <see cref="JobContext"/>, guarded by the group's lock.
/// </summary>
/// <remarks>
/// A <see cref="HashSet{T}"/> did the same with an entry per run and an identity hash code per
/// context; with many short jobs its add and remove under the lock showed up as lock contention
/// (issue 6, 10,000 one-shot jobs). Linking and unlinking here touch two neighbours and allocate
/// nothing.
/// </remarks>
internal sealed class RunningJobs
{
    private JobContext? _head;

    public int Count { get; private set; }

    public void Add(JobContext context)
    {
        if (context.IsRunning)
        {
            return;
        }

        context.IsRunning = true;
        context.PreviousRunning = null;
        context.NextRunning = _head;
        if (_head is not null)
        {
            _head.PreviousRunning = context;
        }

        _head = context;
        Count++;
    }

    public void Remove(JobContext context)
    {
        if (!context.IsRunning)
        {
            return;
        }

        if (context.PreviousRunning is { } previous)
        {
            previous.NextRunning = context.NextRunning;
        }
        else
        {
            _head = context.NextRunning;
        }

        if (context.NextRunning is { } next)
        {
            next.PreviousRunning = context.PreviousRunning;
        }

        context.PreviousRunning = null;
        context.NextRunning = null;
        context.IsRunning = false;
        Count--;
    }

    /// <summary>Copies the runs, oldest first (the order the group launched them).</summary>
    public JobContext[] ToArray()
    {
        var runs = new JobContext[Count];
        int i = runs.Length;
        for (JobContext? context = _head; context is not null; context = context.NextRunning)
        {
            runs[--i] = context;
        }

        return runs;
    }
}
