namespace Jobs.Dataflow;

/// <summary>
/// A unit of work that can be added to a group. Create jobs with <see cref="OneShot"/>,
/// <c>Timer</c> or <c>Observer</c>.
/// </summary>
/// <remarks>
/// A job <em>executes</em> once, in the one group it is added to: from its launch to its end, by
/// itself or by the group's stop. While it executes it <em>runs</em> its work: each attempt of a
/// one-shot job is a run, each run of a timer, and each item an observer handles.
/// <see cref="Completion"/> tells when the execution is over.
/// </remarks>
public abstract partial class Job
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _added;

    /// <summary>Initializes a new instance of the <see cref="Job"/> class, of one kind.</summary>
    /// <param name="name">The name the user gave; sanitized into <see cref="Name"/>.</param>
    /// <param name="kind">The value of the <c>job.kind</c> tag (see <see cref="JobKinds"/>).</param>
    /// <param name="scopePrefix">The prefix of the job's own health scope, such as <c>job-</c>.</param>
    private protected Job(string name, string kind, string scopePrefix)
    {
        Name = JobName.Sanitize(name, nameof(name));
        Kind = kind;
        HealthScopeName = scopePrefix + Name;
    }

    /// <summary>Gets the sanitized name: only <c>[a-zA-Z0-9_-]</c>, at most 101 characters.</summary>
    public string Name { get; }

    /// <summary>
    /// Gets a task that completes when the job has ended, by itself or by its group's stop, and its
    /// final health is reported. For a job that never runs (added to a group that is stopping or
    /// stopped, or queued in a group stopped before it started) it completes when that is decided.
    /// It never faults and is never cancelled: the job's errors are in its health, logs and metrics.
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>Gets the name of the job's own health scope, such as <c>job-NAME</c>.</summary>
    internal string HealthScopeName { get; }

    /// <summary>Gets the job's kind, for the <c>job.kind</c> tag of metrics and activities (see <see cref="JobKinds"/>).</summary>
    internal string Kind { get; }

    /// <summary>Claims the job for one group; false when it was added before (to any group).</summary>
    internal bool TryClaim() => Interlocked.Exchange(ref _added, 1) == 0;

    /// <summary>Gives back a claim made by an <c>Add</c> call that then threw for another job.</summary>
    internal void Unclaim() => Volatile.Write(ref _added, 0);

    /// <summary>Completes <see cref="Completion"/>; called once the job ended and its final health is reported.</summary>
    internal void MarkCompleted() => _completion.TrySetResult();

    /// <summary>Executes the job until it ends or its token is cancelled. Never throws for user errors.</summary>
    /// <param name="context">What the group gives the job: health, logger, metrics, clock and tokens.</param>
    /// <returns>A task that completes when the job has ended.</returns>
    internal abstract Task ExecuteAsync(JobContext context);
}
