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
    /// <summary>The value of <see cref="_completion"/> once the job has completed.</summary>
    private static readonly object Completed = new();

    /// <summary>
    /// What <see cref="Completion"/> knows: <see langword="null"/> while the job has not completed
    /// and nobody asked for the task, the <see cref="TaskCompletionSource"/> of the task once
    /// someone asked, <see cref="Completed"/> once the job completed. A source costs about 90 bytes,
    /// and most jobs complete before anyone asks (a group's stop asks only for the jobs still
    /// running), so it is made only when asked for.
    /// </summary>
    private object? _completion;
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
    public Task Completion
    {
        get
        {
            object? state = Volatile.Read(ref _completion);
            if (state is null)
            {
                var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                state = Interlocked.CompareExchange(ref _completion, asked, null) ?? asked;
            }

            return state is TaskCompletionSource source ? source.Task : Task.CompletedTask;
        }
    }

    /// <summary>Gets the name of the job's own health scope, such as <c>job-NAME</c>.</summary>
    internal string HealthScopeName { get; }

    /// <summary>Gets the job's kind, for the <c>job.kind</c> tag of metrics and activities (see <see cref="JobKinds"/>).</summary>
    internal string Kind { get; }

    /// <summary>Claims the job for one group; false when it was added before (to any group).</summary>
    internal bool TryClaim() => Interlocked.Exchange(ref _added, 1) == 0;

    /// <summary>Gives back a claim made by an <c>Add</c> call that then threw for another job.</summary>
    internal void Unclaim() => Volatile.Write(ref _added, 0);

    /// <summary>Completes <see cref="Completion"/>; called once the job ended and its final health is reported.</summary>
    internal void MarkCompleted()
    {
        if (Interlocked.Exchange(ref _completion, Completed) is TaskCompletionSource asked)
        {
            asked.TrySetResult();
        }
    }

    /// <summary>Executes the job until it ends or its token is cancelled. Never throws for user errors.</summary>
    /// <param name="context">What the group gives the job: health, logger, metrics, clock and tokens.</param>
    /// <returns>A task that completes when the job has ended.</returns>
    internal abstract Task ExecuteAsync(JobContext context);
}
