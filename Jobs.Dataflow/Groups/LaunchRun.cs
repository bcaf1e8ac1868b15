using System.Diagnostics;

namespace Jobs.Dataflow;

/// <summary>
/// Consecutive jobs of one launch, executed one after another by one thread-pool work item: how a
/// group hands its jobs to the thread pool.
/// </summary>
/// <remarks>
/// <para>
/// Jobs launched together share what they write as they start and end: the kept scope of their
/// name, the parent scope's count of closed children, their launch, and their own objects, which
/// were allocated next to each other. With one work item per job, consecutive jobs alternate
/// between the workers, and nearly every such write moves a cache line from the other core. In
/// runs, each worker executes its neighbours' jobs itself (10,000 one-shot jobs on 2 cores: 5.6
/// against 7.4 ms, see docs/benchmarks.md).
/// </para>
/// <para>
/// A job's function may block its thread before its first await: synchronous I/O, a lock, a wait
/// for another job of the same launch. So that such a job never holds back the jobs after it, a
/// run keeps a helper queued while it has jobs left: itself, queued again, taking the next job
/// from the shared cursor when a thread picks it up. A run whose jobs return promptly is done
/// before its helper comes round, and the helper finds nothing left; a run stuck in a job is
/// continued by its helper, which keeps a helper of its own queued. The jobs after any number of
/// blocked ones still start as threads become free, as they did with a work item each.
/// </para>
/// <para>
/// Each job runs in the execution context of the call that launched it, or in the thread pool's
/// default one when that call suppressed the flow, as a work item of its own would. What a job's
/// synchronous start leaves behind (an async local, a synchronization context) does not reach the
/// next job of the run: the group executes a job in an async method, and an async method puts the
/// thread's contexts back as they were when its synchronous part returns. What a job does to the
/// thread itself (its name, priority or background flag) stays for the jobs after it in the run,
/// where the thread pool would have reset it after a work item of its own: a job should not
/// change the thread it borrows.
/// </para>
/// </remarks>
internal sealed class LaunchRun : IThreadPoolWorkItem
{
    /// <summary>
    /// The most jobs in one run. Longer runs keep more jobs on one core, but the benchmark gained
    /// little beyond 32, and the longer the run, the more jobs wait behind one that blocks until
    /// its helper comes round.
    /// </summary>
    public const int MaxJobs = 32;

    private readonly List<JobContext> _jobs;
    private readonly int _end;
    private readonly ExecutionContext? _flow;
    private int _next;
    private int _helperQueued;

    /// <summary>Initializes a new instance of the <see cref="LaunchRun"/> class.</summary>
    /// <param name="jobs">The launch's jobs.</param>
    /// <param name="start">The run's first job in <paramref name="jobs"/>.</param>
    /// <param name="end">The index after the run's last job.</param>
    /// <param name="flow">The launching call's execution context, captured once for every run; <see langword="null"/> when its flow is suppressed.</param>
    private LaunchRun(List<JobContext> jobs, int start, int end, ExecutionContext? flow)
    {
        _jobs = jobs;
        _next = start;
        _end = end;
        _flow = flow;
    }

    /// <summary>Queues the jobs from <paramref name="start"/> to before <paramref name="end"/> as one run.</summary>
    /// <param name="jobs">The launch's jobs, in the order they were added.</param>
    /// <param name="start">The run's first job.</param>
    /// <param name="end">The index after the run's last job; at most <see cref="MaxJobs"/> after <paramref name="start"/>.</param>
    /// <param name="flow">The launching call's execution context; <see langword="null"/> when its flow is suppressed.</param>
    public static void Queue(List<JobContext> jobs, int start, int end, ExecutionContext? flow)
    {
        Debug.Assert(start < end && end - start <= MaxJobs, "A run has from one job to MaxJobs.");
        new LaunchRun(jobs, start, end, flow).QueueSelf();
    }

    /// <summary>Executes the run's jobs that no other thread has taken, one after another.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        // Whether this is the run's first work item or a helper, the run has no helper queued now.
        Volatile.Write(ref _helperQueued, 0);

        while (true)
        {
            int index = Interlocked.Increment(ref _next) - 1;
            if (index >= _end)
            {
                return;
            }

            // Before the job, which may block this thread and could not queue it after; not for
            // the run's last job, which leaves nothing behind it to help with.
            if (index + 1 < _end && Volatile.Read(ref _helperQueued) == 0 && Interlocked.Exchange(ref _helperQueued, 1) == 0)
            {
                QueueSelf();
            }

            JobContext job = _jobs[index];
            if (_flow is null)
            {
                job.Execute();
            }
            else
            {
                ExecutionContext.Run(_flow, static state => ((JobContext)state!).Execute(), job);
            }
        }
    }

    // Stryker disable once Boolean : which queue of the thread pool a run starts from changes only who runs it first.
    private void QueueSelf() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
}
