using System.Diagnostics;

namespace Jobs.Dataflow;

/// <summary>
/// The jobs a group's stop must wait for, those still executing: an intrusive doubly linked list
/// through <see cref="JobContext"/>, guarded by the group's lock.
/// </summary>
/// <remarks>
/// A <see cref="HashSet{T}"/> did the same with an entry per run and an identity hash code per
/// context; with many short jobs its add and remove under the lock showed up as lock contention
/// (10,000 one-shot jobs, see docs/benchmarks.md). Linking and unlinking here touch two neighbours and allocate
/// nothing.
/// </remarks>
internal sealed class ActiveJobs
{
    private JobContext? _head;

    public int Count { get; private set; }

    /// <summary>Links a context that is not in the list: the group tracks each context once, before its launch.</summary>
    public void Add(JobContext context)
    {
        Debug.Assert(context != _head && context.PreviousActive is null, "A context is tracked once.");
        context.NextActive = _head;
        if (_head is not null)
        {
            _head.PreviousActive = context;
        }

        _head = context;
        Count++;
    }

    /// <summary>Unlinks a context in the list: the group untracks each context once, when its job ends.</summary>
    public void Remove(JobContext context)
    {
        Debug.Assert(context == _head || context.PreviousActive is not null, "A context is untracked once, after it was tracked.");
        if (context.PreviousActive is { } previous)
        {
            previous.NextActive = context.NextActive;
        }
        else
        {
            _head = context.NextActive;
        }

        if (context.NextActive is { } next)
        {
            next.PreviousActive = context.PreviousActive;
        }

        context.PreviousActive = null;
        context.NextActive = null;
        Count--;
    }

    /// <summary>Copies the jobs, oldest first (the order the group launched them).</summary>
    public JobContext[] ToArray()
    {
        var jobs = new JobContext[Count];
        int i = jobs.Length;
        for (JobContext? context = _head; context is not null; context = context.NextActive)
        {
            jobs[--i] = context;
        }

        return jobs;
    }
}
