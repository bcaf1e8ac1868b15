using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The execution of one job in its group: what the group hands the job (guarded health and
/// metrics, the logger, the clock and the tokens), the failure and cancellation path every kind
/// shares, and what the group tracks of the job.
/// </summary>
/// <remarks>
/// <para>
/// The user's collaborators (health scope, metrics sink, logger, shutdowner) are guarded here once
/// for every kind: one that throws is logged, and the job goes on. The first failure of each is
/// logged as an error, later ones at debug level, so a sink that fails on every item does not flood
/// the log.
/// </para>
/// <para>
/// A group may run thousands of short jobs, so one context is all a job costs the group: it is the
/// job's guarded health scope too, what every job of the group shares is read from the group
/// instead of being copied in, and the group tracks the job through it. The thread pool runs jobs
/// launched together in runs (see <see cref="LaunchRun"/>), not one work item each.
/// </para>
/// </remarks>
internal sealed partial class JobContext
{
    // The bits of _failedCollaborators: which of the user's collaborators have failed before.
    private const int HealthScopeFailed = 1;
    private const int MetricsSinkFailed = 2;

    private readonly JobGroup _group;
    private readonly IHealth _parentHealth;
    private List<IDataflowBlock>? _blocks;
    private bool _blocksCompleted;
    private int _failedCollaborators;
    private bool _settled;
    private ActiveJobs.Launch? _launch;
    private int _launchIndex;

    /// <summary>Initializes a new instance of the <see cref="JobContext"/> class, for a job added to <paramref name="group"/>.</summary>
    /// <param name="job">The job.</param>
    /// <param name="parentHealth">The scope the job's own scope is created under: the group's, or a scoped group's.</param>
    /// <param name="group">The group: what it hands every job (logger, metrics, clock, tokens) is read from it, not copied into each context.</param>
    public JobContext(Job job, IHealth parentHealth, JobGroup group)
    {
        Job = job;
        _parentHealth = parentHealth;
        _group = group;

        // The no-op sink cannot throw: it needs no guard, and the per-item path no extra call.
        IJobMetrics metrics = group.MetricsFor(job);
        Metrics = metrics is NopJobMetrics ? metrics : new GuardedJobMetrics(metrics, this);
    }

    public Job Job { get; }

    public string JobName => Job.Name;

    /// <summary>Gets the scope the job's own scope is created under: the group's, or a scoped group's.</summary>
    public IHealth ParentHealth => _parentHealth;

    /// <summary>Gets the job's own health scope, guarded: the context itself (see <see cref="OpenHealthScope"/>); reports go nowhere until it is opened.</summary>
    public IHealth Health => this;

    /// <summary>Gets the group's logger; it never throws.</summary>
    public ILogger Logger => _group.Logger;

    /// <summary>Gets the group's labels, for the tags of activities; null when it has none.</summary>
    public LabelsScope? Labels => _group.Labels;

    /// <summary>Gets the group's metrics, guarded.</summary>
    public IJobMetrics Metrics { get; }

    /// <summary>
    /// Gets a value indicating whether someone records pipeline stage durations: never the no-op
    /// sink, <see cref="MeterJobMetrics"/> only while a listener enables the instrument, a sink of
    /// the user's always. A stage reads the clock per item only then.
    /// </summary>
    public bool RecordsStageDurations => RawMetrics switch
    {
        // Stryker disable once Boolean: durations handed to the no-op sink go nowhere; only the clock reads would cost.
        NopJobMetrics => false,
        MeterJobMetrics.JobView view => view.StageDurationsEnabled,
        _ => true,
    };

    /// <summary>Gets a value indicating whether someone records observer item durations; as <see cref="RecordsStageDurations"/>.</summary>
    public bool RecordsObserverDurations => RawMetrics switch
    {
        NopJobMetrics => false,
        MeterJobMetrics.JobView view => view.ObserverDurationsEnabled,
        _ => true,
    };

    /// <summary>Gets a value indicating whether a failure of the job's health scope was logged already.</summary>
    public bool HealthScopeHasFailed => (Volatile.Read(ref _failedCollaborators) & HealthScopeFailed) != 0;

    /// <summary>
    /// Gets a value indicating whether someone counts runs in flight; as <see cref="RecordsStageDurations"/>.
    /// A run reads it once, when it begins, and reports its end only if it reported its beginning,
    /// so the first listener, attached mid-run, never sees a run end that it did not see begin (an
    /// instrument is enabled for all its listeners at once: a second one may, see docs/metrics.md).
    /// </summary>
    public bool CountsRunsInFlight => RawMetrics switch
    {
        // Stryker disable once Boolean: runs in flight handed to the no-op sink go nowhere.
        NopJobMetrics => false,
        MeterJobMetrics.JobView view => view.RunsInFlightEnabled,
        _ => true,
    };

    public TimeProvider TimeProvider => _group.TimeProvider;

    /// <summary>Gets the clock of the grace given to a source that ignores cancellation: the system's, but in tests of the grace.</summary>
    public TimeProvider GraceClock => _group.GraceClock;

    /// <summary>Gets the group's token: cancelled when the group stops.</summary>
    public CancellationToken CancellationToken => _group.JobsToken;

    /// <summary>
    /// Gets the token of the stop's deadline: cancelled when the token given to a
    /// <c>StopAsync</c> call fires. Work that may outlive <see cref="CancellationToken"/> on purpose
    /// (an observer that drains its buffer on stop) ends by this one.
    /// </summary>
    public CancellationToken StopDeadline => _group.StopDeadline;

    /// <summary>Gets or sets a value indicating whether the group stopped before the job began to execute, so it never ran.</summary>
    public bool NeverRan { get; set; }

    /// <summary>
    /// Gets the count of the job's user code in flight, for a test kit; <see langword="null"/>
    /// unless a kit tracks the group, so a job checks for null around its user code and pays nothing more.
    /// </summary>
    public WorkCounter? Work => _group.Tracker?.CounterFor(this);

    /// <summary>
    /// Gets the task scheduler for the job's blocks: the default one, or the one that counts their
    /// tasks while a test kit tracks the group (see <see cref="WorkScheduler"/>).
    /// </summary>
    public TaskScheduler BlockScheduler => Work?.Scheduler ?? TaskScheduler.Default;

    /// <summary>
    /// Gets a value indicating whether the job has finished starting: it set up its blocks and
    /// timers and now waits for time, its source or its trigger (see <see cref="Settle"/>).
    /// </summary>
    public bool Settled => Volatile.Read(ref _settled);

    /// <summary>
    /// Gets the slot that keeps the job's scope once it has ended by itself, shared by the jobs of
    /// its name (see <see cref="KeptScopes"/>); <see langword="null"/> until it ends when the job
    /// was launched alone of its name.
    /// </summary>
    public KeptScopes.Slot? KeptSlot { get; private set; }

    /// <summary>Gets a task that completes when the job has ended and its final health is reported. It never faults.</summary>
    public Task Completion => Job.Completion;

    /// <summary>Gets the user's metrics sink behind the guard.</summary>
    private IJobMetrics RawMetrics => Metrics is GuardedJobMetrics guarded ? guarded.Inner : Metrics;

    /// <summary>Records where the group tracks the job until it ends, and where it keeps its scope after; once, under the group's lock, before its launch.</summary>
    /// <param name="launch">The launch that brings the job.</param>
    /// <param name="index">The job's slot in it.</param>
    /// <param name="keptSlot">The slot of its name's kept scope, if it has one yet.</param>
    public void Track(ActiveJobs.Launch launch, int index, KeptScopes.Slot? keptSlot)
    {
        Debug.Assert(_launch is null, "A context is tracked once.");
        _launch = launch;
        _launchIndex = index;
        KeptSlot = keptSlot;
    }

    /// <summary>Untracks the ended job (see <see cref="ActiveJobs.Launch.Untrack"/>): its launch when the job was the last of it to end, else null.</summary>
    /// <returns>The launch to remove, or <see langword="null"/>.</returns>
    public ActiveJobs.Launch? Untrack() => _launch!.Untrack(_launchIndex) ? _launch : null;

    /// <summary>Marks that the job has finished starting (see <see cref="Settled"/>); a test kit counts it busy until then.</summary>
    public void Settle()
    {
        Volatile.Write(ref _settled, true);
        _group.Tracker?.Touch();
    }

    /// <summary>Executes the job; called on the thread pool by the run it was launched in (see <see cref="LaunchRun"/>).</summary>
    public void Execute() => _group.ExecuteJob(this);

    /// <summary>
    /// Runs the job's function once: returns what it threw (a <see langword="null"/> task counts
    /// as an error too), or <see langword="null"/> when it succeeded, when it ended and how long it
    /// took on the group's clock since <paramref name="start"/>.
    /// </summary>
    /// <param name="function">Calls the job's function with this context and <paramref name="token"/>; a static lambda, so a run allocates no closure.</param>
    /// <param name="start">The run's start, a timestamp of <see cref="TimeProvider"/>.</param>
    /// <param name="token">The run's token: the group's, or one that a run timeout cancels too.</param>
    /// <returns>The run's error, its end (a timestamp of <see cref="TimeProvider"/>) and its duration.</returns>
    public async ValueTask<(Exception? Error, long End, TimeSpan Duration)> RunTimedAsync(Func<JobContext, CancellationToken, Task> function, long start, CancellationToken token)
    {
        Exception? error = null;
        try
        {
            // Checked again: the stop may have come while the run's collaborators ran (a slow
            // metrics sink or activity listener). The run then ends by the stop without calling the function.
            token.ThrowIfCancellationRequested();
            Task task = function(this, token) ?? throw NullTaskError();
            await task.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            error = ex;
        }

        long end = TimeProvider.GetTimestamp();
        return (error, end, Durations.NotNegative(TimeProvider.GetElapsedTime(start, end)));
    }

    /// <summary>The error of a run whose function returned a <see langword="null"/> task instead of one to await.</summary>
    public InvalidOperationException NullTaskError() => new($"The function of job {JobName} returned a null Task.");

    /// <summary>
    /// Tells whether a run that threw ended because of cancellation: whatever a run throws once
    /// its token is cancelled is a normal end (see docs/behaviour.md#rule-6), logged at debug level
    /// only, with the exception unless it is the cancellation itself.
    /// </summary>
    /// <param name="error">What the run threw.</param>
    /// <param name="token">The token the run was given: the group's, or a draining observer's.</param>
    /// <returns><see langword="true"/> when it is a normal end; the caller reports nothing more.</returns>
    public bool EndedByCancellation(Exception error, CancellationToken token)
    {
        if (!token.IsCancellationRequested)
        {
            return false;
        }

        Log.RunCancelled(Logger, JobName, error is OperationCanceledException ? null : error);
        return true;
    }

    /// <summary>
    /// Reports a failed run the way every kind does, in one order: the kind's log message, the
    /// run's activity, the <c>JobError</c> count, health <c>Degraded</c>, then a shutdown when the
    /// kind asks for one on every failure. Call <see cref="EndedByCancellation"/> first.
    /// </summary>
    /// <param name="error">What failed.</param>
    /// <param name="reason">The health message.</param>
    /// <param name="log">The kind's log message for it, given the logger, the job's name and the error.</param>
    /// <param name="activity">The run's activity, if it is traced.</param>
    /// <param name="shutdown">Whether to ask the application to shut down now.</param>
    /// <param name="health">The scope to report on: the job's own by default, a pipeline stage's for a stage's item.</param>
    public void Fail(Exception error, string reason, Action<ILogger, string, Exception> log, Activity? activity, bool shutdown, IHealth? health = null)
    {
        log(Logger, JobName, error);
        JobActivities.Fail(activity, error);
        Metrics.JobError(JobName, error);
        (health ?? Health).Degraded(reason, error);
        if (shutdown)
        {
            RequestShutdown(error);
        }
    }

    /// <summary>
    /// Reports that the job ends for good because of <paramref name="error"/>: health <c>Failed</c>,
    /// kept until the group stops (see docs/behaviour.md#rule-7), then a shutdown when asked for.
    /// </summary>
    /// <param name="error">Why the job gives up.</param>
    /// <param name="reason">The health message.</param>
    /// <param name="shutdown">Whether to ask the application to shut down.</param>
    public void GiveUp(Exception error, string reason, bool shutdown)
    {
        Health.Failed(reason, error);
        if (shutdown)
        {
            RequestShutdown(error);
        }
    }

    /// <summary>
    /// Hands a block to the group, which calls <see cref="IDataflowBlock.Complete"/> on it when it
    /// stops. A block owned after the stop began is completed at once.
    /// </summary>
    public void Own(IDataflowBlock block)
    {
        lock (_group.OwnedBlocksLock)
        {
            if (!_blocksCompleted)
            {
                (_blocks ??= []).Add(block);
                return;
            }
        }

        block.Complete();
    }

    /// <summary>
    /// Asks the application to shut down: for a job with <c>ShutdownOnError</c> that failed (with
    /// its error), or a pipeline with <c>ShutdownWhenComplete</c> whose work is done (without one).
    /// Logs the request, then calls the group's <see cref="IShutdowner"/>. Without one, the request
    /// is logged instead, so it is never lost silently. A throwing shutdowner is logged too.
    /// </summary>
    public void RequestShutdown(Exception? error)
    {
        if (error is null)
        {
            Log.CompletedShutdownRequested(Logger, JobName);
        }
        else
        {
            Log.ShutdownRequested(Logger, JobName);
        }

        if (_group.Shutdowner is not { } shutdowner)
        {
            Log.NoShutdowner(Logger, JobName, error);
            return;
        }

        try
        {
            shutdowner.Shutdown(error);
        }
        catch (Exception ex)
        {
            Log.ShutdownFailed(Logger, JobName, ex);
        }
    }

    /// <summary>Completes every owned block; called by the group on stop.</summary>
    public void CompleteBlocks()
    {
        List<IDataflowBlock>? blocks;
        lock (_group.OwnedBlocksLock)
        {
            _blocksCompleted = true;
            blocks = _blocks;
            _blocks = null;
        }

        if (blocks is not null)
        {
            foreach (IDataflowBlock block in blocks)
            {
                block.Complete();
            }
        }
    }

    /// <summary>Logs a failure of the job's health scope: the first as an error, later ones at debug level.</summary>
    public void HealthFailed(Exception error)
    {
        if (FailsFirst(HealthScopeFailed))
        {
            Log.HealthReportFailed(Logger, JobName, error);
        }
        else
        {
            Log.HealthReportFailedAgain(Logger, JobName, error);
        }
    }

    /// <summary>Logs a failure of the metrics sink: the first as an error, later ones at debug level.</summary>
    public void MetricsFailed(Exception error)
    {
        if (FailsFirst(MetricsSinkFailed))
        {
            Log.MetricsFailed(Logger, JobName, error);
        }
        else
        {
            Log.MetricsFailedAgain(Logger, JobName, error);
        }
    }

    /// <summary>Records that a collaborator failed; true the first time it does.</summary>
    private bool FailsFirst(int collaborator) => (Interlocked.Or(ref _failedCollaborators, collaborator) & collaborator) == 0;
}
