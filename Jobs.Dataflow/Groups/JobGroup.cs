using System.Diagnostics;
using Jobs.Dataflow.Internal;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>Starts and stops a set of jobs together; created by <see cref="JobRegistry.NewGroup"/>.</summary>
/// <remarks>
/// One lock (<see cref="_gate"/>) guards the state, the queue and the set of running jobs. No
/// user code and no wait ever runs under it: jobs are launched on the thread pool and the
/// token is cancelled outside it, so a job that calls <c>Add</c> from its cancellation
/// path cannot deadlock the stop.
/// </remarks>
internal sealed partial class JobGroup : IJobGroup
{
    private readonly object _gate = new();
    private readonly List<(Job Job, IHealth Health)> _queue = [];
    private readonly RunningJobs _running = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _deadline = new();
    private readonly IHealth _health;
    private readonly ILogger _logger;
    private readonly LabelsScope? _labels;
    private readonly IJobMetrics _metrics;
    private readonly IShutdowner? _shutdowner;
    private readonly TimeProvider _timeProvider;
    private State _state;
    private Task? _stop;

    public JobGroup(IHealth health, ILogger logger, LabelsScope? labels, IJobMetrics metrics, IShutdowner? shutdowner, TimeProvider timeProvider)
    {
        _health = health;
        _logger = logger;
        _labels = labels;
        _metrics = metrics;
        _shutdowner = shutdowner;
        _timeProvider = timeProvider;
    }

    private enum State
    {
        Created,
        Started,
        Stopped,
    }

    public void Add(params Job[] jobs) => Add(_health, jobs);

    public IScopedJobGroup Scoped(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new ScopedJobGroup(this, _health.NewScope(name));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        JobContext[] launches;
        lock (_gate)
        {
            switch (_state)
            {
                case State.Started:
                    throw new InvalidOperationException("The job group has already been started.");
                case State.Stopped:
                    throw new InvalidOperationException("The job group has been stopped; a stopped group cannot start again.");
            }

            _state = State.Started;
            launches = new JobContext[_queue.Count];
            for (int i = 0; i < launches.Length; i++)
            {
                launches[i] = TrackLocked(_queue[i].Job, _queue[i].Health);
            }

            _queue.Clear();
        }

        foreach (JobContext context in launches)
        {
            Launch(context);
        }

        return Task.CompletedTask;
    }

    /// <summary>Adds jobs that report under <paramref name="health"/>; rules 1 to 3.</summary>
    internal void Add(IHealth health, Job[] jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        foreach (Job job in jobs)
        {
            ArgumentNullException.ThrowIfNull(job, nameof(jobs));
        }

        List<JobContext>? launches = null;
        List<Job>? rejected = null;
        lock (_gate)
        {
            foreach (Job job in jobs)
            {
                switch (_state)
                {
                    case State.Created:
                        _queue.Add((job, health));
                        break;
                    case State.Started:
                        (launches ??= []).Add(TrackLocked(job, health));
                        break;
                    default:
                        (rejected ??= []).Add(job);
                        break;
                }
            }
        }

        if (launches is not null)
        {
            foreach (JobContext context in launches)
            {
                Launch(context);
            }
        }

        if (rejected is not null)
        {
            foreach (Job job in rejected)
            {
                Log.JobRejected(_logger, job.Name);
            }
        }
    }

    /// <summary>Registers a run of <paramref name="job"/> so that a stop from now on waits for it.</summary>
    private JobContext TrackLocked(Job job, IHealth parentHealth)
    {
        // MeterJobMetrics gets a view per job that tags errors with the job's kind and every
        // measurement with the group's labels; IJobMetrics itself carries neither.
        IJobMetrics metrics = _metrics is MeterJobMetrics meter ? meter.ForJob(job.Kind, _labels) : _metrics;
        var context = new JobContext(job, parentHealth, _logger, _labels, metrics, _shutdowner, _timeProvider, _stopping.Token, _deadline.Token);
        _running.Add(context);
        return context;
    }

    /// <summary>
    /// Creates the job's health scope and runs the job on the thread pool. Called outside the lock
    /// (the health scope is user code), in the order the jobs were added, so the health tree lists
    /// them in that order.
    /// </summary>
    private void Launch(JobContext context)
    {
        try
        {
            context.Health = context.ParentHealth.NewScope(context.Job.HealthScopeName);
        }
        catch (Exception ex)
        {
            Log.HealthReportFailed(_logger, context.JobName, ex);
            context.Complete();
            Untrack(context);
            return;
        }

        // The job's own code, even its synchronous start, runs on the thread pool: StartAsync and
        // Add return without waiting for it. Not Task.Run: its closure, delegate, task and unwrap
        // promise cost about 250 bytes per job, and RunJobAsync never faults, so nothing needs its
        // task. The work item still flows the ExecutionContext, as Task.Run did.
        ThreadPool.QueueUserWorkItem(static state => _ = state.Group.RunJobAsync(state.Context), (Group: this, Context: context), preferLocal: false);
    }

    private void Untrack(JobContext context)
    {
        lock (_gate)
        {
            _running.Remove(context);
        }
    }

    private async Task RunJobAsync(JobContext context)
    {
        // A job's activities are roots of their own, not children of whatever started the group.
        Activity.Current = null;
        Job job = context.Job;
        try
        {
            Log.JobStarted(_logger, job.Name);
            await job.RunAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (context.CancellationToken.IsCancellationRequested)
        {
            Log.JobCancelled(_logger, job.Name, ex);
        }
        catch (Exception ex)
        {
            // Job kinds catch their user's exceptions; this only catches what escaped them, such as
            // a throwing IHealth implementation, so that it is never lost.
            Log.JobCrashed(_logger, job.Name, ex);
        }
        finally
        {
            // The group's logger never throws (GroupLogger), and CloseHealth guards the user's
            // health scope, so the run is always untracked and completed: a stop waits for it.
            CloseHealth(context);
            Untrack(context);
            context.Complete();
            Log.JobEnded(_logger, job.Name);
        }
    }

    private void CloseHealth(JobContext context)
    {
        try
        {
            context.Health.Close();
        }
        catch (Exception ex)
        {
            Log.HealthReportFailed(_logger, context.JobName, ex);
        }
    }
}
