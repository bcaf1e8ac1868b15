using System.Runtime.InteropServices;

namespace Jobs.Dataflow;

/// <summary>
/// The jobs a group's stop must wait for, those still executing, kept as the launches that brought
/// them: a launch is added under the group's lock, and a job that ends leaves it without any lock.
/// </summary>
/// <remarks>
/// With many short jobs, ending is what the group does most, on every worker at once. A list of
/// jobs guarded by the group's lock made every ending job wait for that lock (10,000 one-shot
/// jobs on 2 cores, see docs/benchmarks.md). Here a job that ends clears its own slot and counts
/// down its launch; only the last job of a launch takes the lock, to drop the launch. A launch's
/// slots are cleared as its jobs end, so until its last job ends it keeps 8 bytes per ended job,
/// not the job, and whoever copies the active jobs (a stop, a test kit) reads those slots too.
/// </remarks>
internal sealed class ActiveJobs
{
    private Launch? _oldest;
    private Launch? _newest;

    /// <summary>Adds the jobs of one launch, none of them tracked yet; under the group's lock. Job <c>i</c> of the list ends by <c>Untrack(i)</c>.</summary>
    /// <param name="contexts">The jobs, in the order they are launched.</param>
    /// <returns>The launch.</returns>
    public Launch AddLocked(List<JobContext> contexts)
    {
        // A launch keeps its list, at 8 bytes a slot, until its last job ends: not a list with room
        // to spare (one filled job by job has up to twice the room it needs).
        // Stryker disable once Statement : only memory tells.
        contexts.TrimExcess();
        var launch = new Launch(contexts) { Older = _newest };
        if (_newest is null)
        {
            _oldest = launch;
        }
        else
        {
            _newest.Newer = launch;
        }

        _newest = launch;
        return launch;
    }

    /// <summary>Drops a launch whose jobs have all ended (see <see cref="Launch.Untrack"/>); under the group's lock.</summary>
    public void RemoveLocked(Launch launch)
    {
        if (launch.Newer is { } newer)
        {
            newer.Older = launch.Older;
        }
        else
        {
            _newest = launch.Older;
        }

        if (launch.Older is { } older)
        {
            older.Newer = launch.Newer;
        }
        else
        {
            _oldest = launch.Newer;
        }

        launch.Older = launch.Newer = null;
    }

    /// <summary>Copies the jobs still executing, oldest first (the order the group launched them); under the group's lock.</summary>
    public JobContext[] ToArrayLocked()
    {
        var jobs = new List<JobContext>();
        for (Launch? launch = _oldest; launch is not null; launch = launch.Newer)
        {
            launch.CopyTo(jobs);
        }

        return [.. jobs];
    }

    /// <summary>The jobs launched together, by one start or one add after it.</summary>
    /// <remarks>
    /// The launch takes over the group's list of the jobs, not a copy of it. A slot is set to
    /// <see langword="null"/> when its job ends, though the list's type says otherwise: besides
    /// this class, only the group and the runs it launches read the list, each slot once, before
    /// its job runs, so never a cleared one. Slots are read without the lock by whoever copies the jobs.
    /// </remarks>
    internal sealed class Launch(List<JobContext> jobs)
    {
        private readonly List<JobContext> _jobs = jobs;
        private int _remaining = jobs.Count;

        /// <summary>Gets or sets the launch before this one; guarded by the group's lock.</summary>
        public Launch? Older { get; set; }

        /// <summary>Gets or sets the launch after this one; guarded by the group's lock.</summary>
        public Launch? Newer { get; set; }

        /// <summary>Clears the slot of a job that ended; true when it was the launch's last job, which must then be removed.</summary>
        /// <param name="index">The job's slot: its place in the list given to <see cref="AddLocked"/>.</param>
        /// <returns>Whether every job of the launch has ended.</returns>
        public bool Untrack(int index)
        {
            Volatile.Write(ref CollectionsMarshal.AsSpan(_jobs)[index], null!);
            return Interlocked.Decrement(ref _remaining) == 0;
        }

        public void CopyTo(List<JobContext> jobs)
        {
            Span<JobContext> slots = CollectionsMarshal.AsSpan(_jobs);
            for (int i = 0; i < slots.Length; i++)
            {
                // A job completes just before it leaves its slot.
                if (Volatile.Read(ref slots[i]) is { Job.IsCompleted: false } context)
                {
                    jobs.Add(context);
                }
            }
        }
    }
}
