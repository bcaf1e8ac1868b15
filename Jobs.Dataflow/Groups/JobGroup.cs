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
    private readonly HashSet<JobContext> _running = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _deadline = new();
    private readonly IHealth _health;
    private readonly ILogger _logger;
    private readonly IJobMetrics _metrics;
    private readonly IShutdowner _shutdowner;
    private readonly TimeProvider _timeProvider;
    private State _state;

    public JobGroup(IHealth health, ILogger logger, IJobMetrics metrics, IShutdowner shutdowner, TimeProvider timeProvider)
    {
        _health = health;
        _logger = logger;
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
            foreach ((Job job, IHealth health) in _queue)
            {
                LaunchLocked(job, health);
            }

            _queue.Clear();
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
                        LaunchLocked(job, health);
                        break;
                    default:
                        (rejected ??= []).Add(job);
                        break;
                }
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

    private void LaunchLocked(Job job, IHealth parentHealth)
    {
        var context = new JobContext(job, parentHealth, _logger, _metrics, _shutdowner, _timeProvider, _stopping.Token, _deadline.Token);
        _running.Add(context);

        // The job's own code, even its synchronous start, runs on the thread pool: StartAsync and
        // Add return without waiting for it, and never run it under the lock.
        context.Completion = Task.Run(() => RunJobAsync(context));
    }

    private async Task RunJobAsync(JobContext context)
    {
        Job job = context.Job;
        try
        {
            context.Health = context.ParentHealth.NewScope(job.HealthScopeName);
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
            CloseHealth(context);
            lock (_gate)
            {
                _running.Remove(context);
            }

            Log.JobEnded(_logger, job.Name);
        }
    }

    private void CloseHealth(JobContext context)
    {
        try
        {
            context.Health?.Close();
        }
        catch (Exception ex)
        {
            Log.HealthReportFailed(_logger, context.JobName, ex);
        }
    }
}
