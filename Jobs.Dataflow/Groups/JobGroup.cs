using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>Starts and stops a set of jobs together; created by <see cref="JobRegistry.NewGroup"/>.</summary>
/// <remarks>
/// <para>
/// One lock (<see cref="_gate"/>) guards changes of the state, the queue, the launches of active
/// jobs, the slots where ended jobs keep their scopes, and the scoped groups. No user code and no
/// wait ever runs under it: jobs are launched on the thread pool, health scopes are created and
/// closed outside it, and the token is cancelled outside it, so a job that calls <c>Add</c> from
/// its cancellation path cannot deadlock the stop.
/// </para>
/// <para>
/// A job that ends takes no lock (see <see cref="End"/>): it reads the state, swaps its scope into
/// its name's slot and leaves its launch with atomic operations. Only the last job of a launch
/// takes the lock, to drop the launch, and a job launched alone of its name, to find its slot.
/// </para>
/// </remarks>
internal sealed partial class JobGroup : IJobGroup, IDisposable
{
    private readonly Lock _gate = new();
    private readonly ActiveJobs _active = new();
    private readonly KeptScopes _ended = new();
    private readonly Dictionary<string, ScopedJobGroup> _scopes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _deadline = new();
    private readonly ILogger _logger;
    private readonly LabelsScope? _labels;
    private readonly IJobMetrics _metrics;
    private readonly IShutdowner? _shutdowner;
    private readonly TimeProvider _timeProvider;

    // Written under the lock; read without it by a job that ends (see End).
    private volatile State _state;

    /// <summary>
    /// The user's scope the jobs report under; a no-op one once the group stopped, so that a
    /// stopped group (a registry keeps every group it made) holds nothing of the user's tree.
    /// </summary>
    private IHealth _health;

    /// <summary>The jobs added before the start, in the order added; <see langword="null"/> once the group started.</summary>
    private List<JobContext>? _queue = [];

    public JobGroup(IHealth health, ILogger logger, LabelsScope? labels, IJobMetrics metrics, IShutdowner? shutdowner, TimeProvider timeProvider, TimeProvider graceClock)
    {
        GraceClock = graceClock;
        _health = health;
        _logger = logger;
        _labels = labels;
        _metrics = metrics;
        _shutdowner = shutdowner;
        _timeProvider = timeProvider;
        JobsToken = _stopping.Token;
        StopDeadline = _deadline.Token;
    }

    private enum State
    {
        Created,
        Started,
        Stopped,
    }

    /// <summary>Gets the logger of the group's jobs: it writes inside the group's labels scope and never throws.</summary>
    internal ILogger Logger => _logger;

    /// <summary>Gets the group's labels; null when it has none.</summary>
    internal LabelsScope? Labels => _labels;

    /// <summary>Gets the number of slots the group holds for the scopes of jobs that end by themselves (see <see cref="KeptScopes"/>).</summary>
    internal int KeptSlots
    {
        get
        {
            lock (_gate)
            {
                return _ended.CountLocked;
            }
        }
    }

    /// <summary>Gets the shutdowner jobs with <c>ShutdownOnError</c> call; null when none is configured.</summary>
    internal IShutdowner? Shutdowner => _shutdowner;

    /// <summary>Gets the clock of intervals, backoff and durations.</summary>
    internal TimeProvider TimeProvider => _timeProvider;

    /// <summary>Gets the clock of the grace given to a source that ignores cancellation (see <see cref="JobRegistry.GraceClock"/>).</summary>
    internal TimeProvider GraceClock { get; }

    /// <summary>Gets the jobs' token: cancelled when the group stops.</summary>
    internal CancellationToken JobsToken { get; }

    /// <summary>Gets the token of the stop's deadline: cancelled when the token given to a <c>StopAsync</c> call fires.</summary>
    internal CancellationToken StopDeadline { get; }

    /// <summary>Gets what the group tells a test kit about its work; <see langword="null"/> unless the kit made the registry.</summary>
    internal IdleTracker? Tracker { get; init; }

    /// <summary>
    /// Gets or sets the token that says the application is stopping: a Generic Host's
    /// <c>ApplicationStopping</c>, set for a group the host starts (<c>AddJobGroup</c>), before the
    /// start; none otherwise (see <see cref="StartAsync"/>).
    /// </summary>
    internal CancellationToken ApplicationStopping { get; set; }

    /// <summary>
    /// Gets the lock of every job's owned blocks (see <see cref="JobContext.Own"/>). A job owns its
    /// blocks once, when it begins, and the stop completes them once, so one lock for the group is
    /// plenty, and a job needs no lock object of its own.
    /// </summary>
    internal Lock OwnedBlocksLock { get; } = new();

    public void Add(params Job[] jobs) => Add(_health, jobs);

    /// <summary>
    /// Returns the view of the group whose jobs report under the scope <paramref name="name"/>:
    /// the same view, and scope, for the same name. The group closes these scopes when it stops;
    /// after the stop, the view only rejects jobs (docs/behaviour.md#rule-3) and creates no scope.
    /// </summary>
    public IScopedJobGroup Scoped(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_gate)
        {
            if (_scopes.TryGetValue(name, out ScopedJobGroup? existing))
            {
                return existing;
            }

            if (_state == State.Stopped)
            {
                return new ScopedJobGroup(this, _health);
            }
        }

        // The scope is the caller's IHealth: created outside the lock, then published unless
        // another caller won the race (its scope is used, and this one closed) or the group
        // stopped meanwhile (this one is closed, and the view rejects jobs).
        var created = new ScopedJobGroup(this, TryNewScope(name));
        ScopedJobGroup winner;
        bool stopped;
        lock (_gate)
        {
            stopped = _state == State.Stopped;
            if (!_scopes.TryGetValue(name, out winner!))
            {
                winner = created;
                if (!stopped)
                {
                    _scopes.Add(name, created);
                }
            }
        }

        if (winner != created || stopped)
        {
            created.CloseScope(_logger);
        }

        return winner;
    }

    /// <summary>
    /// Launches the queued jobs (docs/behaviour.md#rule-4). A start whose token is already
    /// cancelled launches nothing: it throws <see cref="OperationCanceledException"/> and the group
    /// can still start. A start once the application is stopping (a Generic Host's
    /// <c>ApplicationStopping</c>: a job of an earlier group gave up, or a batch pipeline ended,
    /// while the host was still starting) launches nothing either, whatever its token: the host
    /// cancels the token of every start after the shutdown was asked for, a throw would make it fail
    /// to start and the process crash instead of exiting with the shutdown's code, and jobs started
    /// then would only be stopped again. So the group stops as one that never started: its queued
    /// jobs never run, and a warning names them.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        List<JobContext>? launches = null;
        List<KeptScopes.Kept>? replaced = null;
        lock (_gate)
        {
            switch (_state)
            {
                case State.Started:
                    throw new InvalidOperationException("The job group has already been started.");
                case State.Stopped:
                    throw new InvalidOperationException("The job group has been stopped; a stopped group cannot start again.");
            }

            // The application's token first: the host cancels the start's token through a
            // callback of it, which may not have run yet.
            if (ApplicationStopping.IsCancellationRequested)
            {
                // Stopped from here on, so that no other start slips in before the stop below.
                _state = State.Stopped;
            }
            else
            {
                cancellationToken.ThrowIfCancellationRequested();
                _state = State.Started;
                launches = _queue!;
                _queue = null;
                TrackLocked(launches, ref replaced);
            }
        }

        if (launches is null)
        {
            // Outside the lock: the stop closes the scopes, which is the user's health code.
            return StopAsync(CancellationToken.None);
        }

        Launch(launches, replaced);
        return Task.CompletedTask;
    }

    /// <summary>Adds jobs that report under <paramref name="health"/>; docs/behaviour.md#rule-1 to #rule-3, and a job runs once (#rule-7).</summary>
    internal void Add(IHealth health, Job[] jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        foreach (Job job in jobs)
        {
            ArgumentNullException.ThrowIfNull(job, nameof(jobs));
        }

        Claim(jobs);
        List<JobContext>? launches = null;
        List<KeptScopes.Kept>? replaced = null;
        List<Job>? rejected = null;
        lock (_gate)
        {
            _queue?.EnsureCapacity(_queue.Count + jobs.Length);
            foreach (Job job in jobs)
            {
                switch (_state)
                {
                    case State.Created:
                        _queue!.Add(new JobContext(job, health, this));
                        break;
                    case State.Started:
                        (launches ??= new(jobs.Length)).Add(new JobContext(job, health, this));
                        break;
                    default:
                        (rejected ??= []).Add(job);
                        break;
                }
            }

            if (launches is not null)
            {
                TrackLocked(launches, ref replaced);
            }
        }

        if (launches is not null)
        {
            Launch(launches, replaced);
        }

        if (rejected is not null)
        {
            foreach (Job job in rejected)
            {
                Log.JobRejected(_logger, job.Name);
                job.MarkCompleted();
            }
        }
    }

    /// <summary>Gets the metrics sink of <paramref name="job"/>, unguarded.</summary>
    internal IJobMetrics MetricsFor(Job job) =>

        // MeterJobMetrics gets a view per job that tags errors with the job's kind and every
        // measurement with the group's labels; IJobMetrics itself carries neither.
        _metrics is MeterJobMetrics meter ? meter.ForJob(job.Kind, _labels) : _metrics;

    /// <summary>Executes a launched job; called on the thread pool by its run (see <see cref="Launch"/>).</summary>
    internal void ExecuteJob(JobContext context) => _ = ExecuteJobAsync(context);

    /// <summary>Claims every job for this group, or none: a job added before (here or elsewhere, or twice in this call) throws.</summary>
    private static void Claim(Job[] jobs)
    {
        for (int i = 0; i < jobs.Length; i++)
        {
            if (!jobs[i].TryClaim())
            {
                for (int j = 0; j < i; j++)
                {
                    jobs[j].Unclaim();
                }

                throw new InvalidOperationException(
                    $"Job {jobs[i].Name} was already added to a group. A job runs once; create a new one to run it again.");
            }
        }
    }

    /// <summary>Creates a scoped group's scope; one that throws is logged, and its jobs report nowhere.</summary>
    private IHealth TryNewScope(string name)
    {
        try
        {
            return _health.NewScope(name);
        }
        catch (Exception ex)
        {
            Log.ScopeCreateFailed(_logger, name, ex);
            return NullHealth.Instance;
        }
    }

    /// <summary>
    /// Registers the jobs as active, so that a stop from now on waits for them, gives each the slot
    /// its scope is kept in once it ends, and takes the kept scope of an earlier job of its name that
    /// it replaces (docs/behaviour.md#rule-7), to be closed at its launch.
    /// </summary>
    private void TrackLocked(List<JobContext> launches, ref List<KeptScopes.Kept>? replaced)
    {
        // Stryker disable once Block,Equality : an empty launch only costs memory.
        if (launches.Count == 0)
        {
            // A start with nothing queued: a launch without jobs would never be dropped.
            return;
        }

        ActiveJobs.Launch launch = _active.AddLocked(launches);
        KeptScopes.Slot? previous = null;
        for (int i = 0; i < launches.Count; i++)
        {
            JobContext context = launches[i];

            // Jobs of one name launched together (often in bulk) end at once, and hand their kept
            // scope to each other through a slot made now, so that ending takes no lock. A job
            // alone of its name gets one when it ends by itself (see End): a slot per name would
            // cost every long-lived job of a distinct name (a timer) memory it never uses.
            bool namesakeNext = i + 1 < launches.Count && KeptScopes.ShareSlot(context, launches[i + 1]);
            KeptScopes.Slot? slot = _ended.SlotLocked(context.ParentHealth, context.Job, create: namesakeNext);
            context.Track(launch, i, slot);

            // The first job of a run of one name takes the kept scope it replaces.
            // Stryker disable once Logical,Equality : taking again from the same slot finds it empty.
            if (slot is not null && slot != previous && slot.Take() is { Scope: not null } kept)
            {
                (replaced ??= []).Add(kept);
            }

            previous = slot;
        }
    }

    /// <summary>
    /// Launches tracked jobs, in the order they were added. Called outside the lock: closing and
    /// creating scopes is user code. The kept scopes the jobs replace are closed first, so the
    /// tree never shows an old and a new scope of one name; then each job's scope is created, in
    /// order, so the tree lists them in that order (a scope that cannot be created is logged, and
    /// its job runs without one), and the jobs are queued in runs right after their scopes exist:
    /// on a machine with few cores, the first jobs of a large launch run while the scopes of the
    /// last are still being created.
    /// </summary>
    private void Launch(List<JobContext> launches, List<KeptScopes.Kept>? replaced)
    {
        ExecutionContext? flow = ExecutionContext.Capture();
        foreach (KeptScopes.Kept kept in replaced ?? [])
        {
            kept.Close(_logger);
        }

        // The job's own code, even its synchronous start, runs on the thread pool: StartAsync and
        // Add return without waiting for it. Not Task.Run: its closure, delegate, task and unwrap
        // promise cost about 250 bytes per job, and ExecuteJobAsync never faults, so nothing needs its
        // task. Consecutive jobs run in one work item (see LaunchRun), in the ExecutionContext of the
        // caller of StartAsync or Add, as with Task.Run; captured before any scope is created, so
        // what a user's health scope does to the flow reaches none of the jobs.
        long? launchedAt = null;
        for (int start = 0; start < launches.Count; start += LaunchRun.MaxJobs)
        {
            int end = Math.Min(start + LaunchRun.MaxJobs, launches.Count);
            for (int i = start; i < end; i++)
            {
                launches[i].OpenHealthScope(ref launchedAt);
            }

            LaunchRun.Queue(launches, start, end, flow);
        }
    }

    private async Task ExecuteJobAsync(JobContext context)
    {
        // A job's activities are roots of their own, not children of whatever started the group.
        Activity.Current = null;
        Job job = context.Job;
        if (context.CancellationToken.IsCancellationRequested)
        {
            // Launched, but the stop came first: the stop names it in one warning.
            context.NeverRan = true;
            End(context);
            return;
        }

        try
        {
            Log.JobStarted(_logger, job.Name);
            await job.ExecuteAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (context.CancellationToken.IsCancellationRequested)
        {
            Log.JobCancelled(_logger, job.Name, ex);
        }
        catch (Exception ex)
        {
            // Job kinds catch their user's exceptions and the context guards the user's
            // collaborators; this only catches a bug of the library, so that it is never lost:
            // logged, and the job's last status, since it will not run again.
            Log.JobCrashed(_logger, job.Name, ex);
            context.Health.Failed($"Ended by an unexpected error: {ex.Message}", ex);
        }
        finally
        {
            Log.JobEnded(_logger, job.Name);
            End(context);
        }
    }

    /// <summary>
    /// Untracks an ended run and completes its job. A job that ended by itself keeps its health
    /// scope, with its last status, until the group stops (docs/behaviour.md#rule-7); a job that ended because of the
    /// stop has its scope closed first, so the stop returns with every scope closed. The group's
    /// logger and the guarded scope never throw, so this always completes the job: a stop waits for it.
    /// </summary>
    /// <remarks>
    /// No lock, but when the job is the last of its launch to end, or was launched alone of its
    /// name and needs a slot for its scope: with many short jobs, ending is what the group does
    /// most, on every worker at once. The job completes before it is untracked,
    /// and closes what it closes before it completes, so a stop that finds it still tracked waits
    /// for all of it, and one that does not finds it done.
    /// </remarks>
    private void End(JobContext context)
    {
        // The stop marks the group stopped before it cancels the jobs' token: a job that ends here
        // with the group running ended by itself (or the stop came just now, see below).
        if (_state != State.Stopped && (context.KeptSlot ?? SlotOfLoneJob(context)) is { } slot)
        {
            // A user's scope whose reports failed before is kept marked, so that a failure to close
            // it is logged as a later one (debug), as the job's guard would; the job itself is not kept.
            IHealth? scope = context.OwnScope is { } own and not HealthNode && context.HealthScopeHasFailed
                ? new KeptScopes.FailedBefore(own)
                : context.OwnScope;
            KeptScopes.Kept replaced = slot.Keep(scope);
            if (replaced.Scope is HealthNode node)
            {
                // The library's own scope runs no user code.
                node.Close();
            }
            else
            {
                replaced.Close(_logger);
            }

            // A stop that came meanwhile may have taken what its slot kept before this job kept its
            // scope: the job then takes its scope back and closes it, unless the stop took it.
            if (_state == State.Stopped && scope is not null && slot.TryTakeBack(scope))
            {
                context.CloseHealth();
            }
        }
        else
        {
            context.CloseHealth();
        }

        context.Job.MarkCompleted();
        if (context.Untrack() is { } launch)
        {
            lock (_gate)
            {
                _active.RemoveLocked(launch);
            }
        }
    }

    /// <summary>
    /// Gets the slot for the scope of a job that was launched alone of its name and ended by
    /// itself; <see langword="null"/> when the group stopped meanwhile (the job then closes its
    /// scope). Made under the lock, before the stop takes the slots, so the stop closes what it keeps.
    /// </summary>
    private KeptScopes.Slot? SlotOfLoneJob(JobContext context)
    {
        lock (_gate)
        {
            return _state == State.Stopped ? null : _ended.SlotLocked(context.ParentHealth, context.Job, create: true);
        }
    }
}
