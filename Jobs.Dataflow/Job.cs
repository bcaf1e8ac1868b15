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

    /// <summary>The last scope name made, reused by the next job when it fits (see <see cref="HealthScopeName"/>).</summary>
    private static string? _lastScopeName;

    /// <summary>
    /// What <see cref="Completion"/> knows: <see langword="null"/> while the job has not completed
    /// and nobody asked for the task, the <see cref="TaskCompletionSource"/> of the task once
    /// someone asked, <see cref="Completed"/> once the job completed. A source costs about 90 bytes,
    /// and most jobs complete before anyone asks (a group's stop asks only for the jobs still
    /// running), so it is made only when asked for.
    /// </summary>
    private object? _completion;
    private int _added;

    /// <summary>Initializes a new instance of the <see cref="Job"/> class.</summary>
    /// <param name="name">The name the user gave; sanitized into <see cref="Name"/>.</param>
    private protected Job(string name)
    {
        Name = JobName.Sanitize(name, nameof(name));
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

    /// <summary>
    /// Gets the name of the job's own health scope: <see cref="HealthScopePrefix"/> and
    /// <see cref="Name"/>, such as <c>job-NAME</c>. Jobs are often made in bulk under one name (a
    /// loop of <c>Job.OneShot("fetch", ...)</c>), so the name made for the previous job is reused
    /// when it is the same text: one string for the lot, not one per job. Any thread may replace
    /// the one kept; it is only reused after its text is compared.
    /// </summary>
    internal string HealthScopeName
    {
        get
        {
            string prefix = HealthScopePrefix;
            string? last = Volatile.Read(ref _lastScopeName);
            if (last is not null
                && last.Length == prefix.Length + Name.Length
                && last.StartsWith(prefix, StringComparison.Ordinal)
                && last.AsSpan(prefix.Length).SequenceEqual(Name))
            {
                return last;
            }

            string made = string.Concat(prefix, Name);
            Volatile.Write(ref _lastScopeName, made);
            return made;
        }
    }

    /// <summary>Gets a value indicating whether <see cref="Completion"/> has completed, without making its task.</summary>
    internal bool IsCompleted => Volatile.Read(ref _completion) == Completed;

    /// <summary>Gets the job's kind, for the <c>job.kind</c> tag of metrics and activities (see <see cref="JobKinds"/>).</summary>
    internal abstract string Kind { get; }

    /// <summary>Gets the prefix of the job's own health scope, such as <c>job-</c>; see <see cref="HealthScopeName"/>.</summary>
    private protected abstract string HealthScopePrefix { get; }

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

    /// <summary>
    /// Adds to <paramref name="busy"/> what keeps this executing job busy, for a test kit (see
    /// <see cref="JobGroup.DescribeBusy"/>): nothing when it waits for time, its source or its
    /// trigger. Each kind of job says it in its own terms.
    /// </summary>
    /// <param name="context">The job's context in its group.</param>
    /// <param name="busy">The list to add a line to, naming the job.</param>
    internal abstract void DescribeBusy(JobContext context, List<string> busy);

    /// <summary>Executes the job until it ends or its token is cancelled. Never throws for user errors.</summary>
    /// <param name="context">What the group gives the job: health, logger, metrics, clock and tokens.</param>
    /// <returns>A task that completes when the job has ended.</returns>
    internal abstract Task ExecuteAsync(JobContext context);
}
