namespace Jobs.Dataflow;

/// <content>What the group tells a test kit about its jobs (see <see cref="IdleTracker"/>).</content>
internal sealed partial class JobGroup
{
    /// <summary>
    /// Lists what keeps the group's jobs busy, one line each, such as <c>timer job refresh: a run is
    /// in flight</c>; empty when every job waits for time, its source or its trigger, or has ended.
    /// A job of a group that has not started, or that has stopped, is never busy.
    /// </summary>
    public List<string> DescribeBusy()
    {
        JobContext[] active;
        lock (_gate)
        {
            if (_state != State.Started)
            {
                return [];
            }

            active = _active.ToArrayLocked();
        }

        var busy = new List<string>();
        foreach (JobContext context in active)
        {
            context.Job.DescribeBusy(context, busy);
        }

        return busy;
    }

    /// <summary>Finds the context of a job of this group that is still executing, by its sanitized name; null when none.</summary>
    public JobContext? FindActive(string name)
    {
        lock (_gate)
        {
            foreach (JobContext context in _active.ToArrayLocked())
            {
                if (string.Equals(context.JobName, name, StringComparison.Ordinal))
                {
                    return context;
                }
            }
        }

        return null;
    }

    /// <summary>Lists the sanitized names of the group's jobs of one kind that are still executing, in the order launched; for a test kit's messages.</summary>
    public List<string> ActiveNames(string kind)
    {
        var names = new List<string>();
        lock (_gate)
        {
            foreach (JobContext context in _active.ToArrayLocked())
            {
                if (context.Job.Kind == kind)
                {
                    names.Add(context.JobName);
                }
            }
        }

        return names;
    }
}
