namespace Jobs.Dataflow;

/// <summary>
/// A unit of work that can be added to a group. Create jobs with <see cref="OneShot"/>,
/// <c>Timer</c> or <c>Observer</c>. A job runs once: it belongs to the first group it is added
/// to, and <see cref="Completion"/> tells when its run is over.
/// </summary>
public abstract partial class Job
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _added;

    private protected Job(string name)
    {
        Name = JobName.Sanitize(name, nameof(name));
    }

    /// <summary>Gets the sanitized name: only <c>[a-zA-Z0-9_-]</c>, at most 101 characters.</summary>
    public string Name { get; }

    /// <summary>
    /// Gets a task that completes when the job's run has ended, by itself or by its group's stop,
    /// and its final health is reported. For a job that never runs (added to a group that is
    /// stopping or stopped, or queued in a group stopped before it started) it completes when
    /// that is decided. It never faults and is never cancelled: the job's errors are in its
    /// health, logs and metrics.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>Gets the name of the job's own health scope, such as <c>job-NAME</c>.</summary>
    internal abstract string HealthScopeName { get; }

    /// <summary>Gets the job's kind, for the <c>job.kind</c> tag of metrics and activities (see <see cref="JobKinds"/>).</summary>
    internal abstract string Kind { get; }

    /// <summary>Claims the job for one group; false when it was added before (to any group).</summary>
    internal bool TryClaim() => Interlocked.Exchange(ref _added, 1) == 0;

    /// <summary>Gives back a claim made by an <c>Add</c> call that then threw for another job.</summary>
    internal void Unclaim() => Volatile.Write(ref _added, 0);

    /// <summary>Completes <see cref="Completion"/>; called once the run ended and its final health is reported.</summary>
    internal void MarkCompleted() => _completion.TrySetResult();

    /// <summary>Runs the job until it ends or its token is cancelled. Never throws for user errors.</summary>
    /// <param name="context">What the group gives the job: health, logger, metrics, clock and token.</param>
    /// <returns>A task that completes when the job has ended.</returns>
    internal abstract Task RunAsync(JobContext context);
}
