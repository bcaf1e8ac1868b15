using System.Threading.Tasks.Dataflow;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Internal;

/// <summary>One run of one job in a group: what the group hands the job, and what it tracks of it.</summary>
internal sealed class JobContext
{
    private readonly object _blocksLock = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IShutdowner? _shutdowner;
    private List<IDataflowBlock>? _blocks;
    private bool _blocksCompleted;

    public JobContext(
        Job job,
        IHealth parentHealth,
        ILogger logger,
        LabelsScope? labels,
        IJobMetrics metrics,
        IShutdowner? shutdowner,
        TimeProvider timeProvider,
        CancellationToken cancellationToken,
        CancellationToken stopDeadline)
    {
        Job = job;
        ParentHealth = parentHealth;
        Logger = logger;
        Labels = labels;
        Metrics = metrics;
        _shutdowner = shutdowner;
        TimeProvider = timeProvider;
        CancellationToken = cancellationToken;
        StopDeadline = stopDeadline;
    }

    public Job Job { get; }

    public string JobName => Job.Name;

    /// <summary>Gets the scope the job's own scope is created under: the group's, or a scoped group's.</summary>
    public IHealth ParentHealth { get; }

    /// <summary>Gets or sets the job's own health scope; set by the group before the job runs.</summary>
    public IHealth Health { get; set; } = null!;

    public ILogger Logger { get; }

    /// <summary>Gets the group's labels, for the tags of activities; null when it has none.</summary>
    public LabelsScope? Labels { get; }

    public IJobMetrics Metrics { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Gets the group's token: cancelled when the group stops.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>
    /// Gets the token of the stop's deadline: cancelled when the token given to
    /// <c>StopAsync</c> fires. Work that may outlive <see cref="CancellationToken"/> on purpose
    /// (an observer that drains its buffer on stop) ends by this one.
    /// </summary>
    public CancellationToken StopDeadline { get; }

    /// <summary>Gets or sets the previous run in the group's <see cref="RunningJobs"/>; guarded by the group's lock.</summary>
    public JobContext? PreviousRunning { get; set; }

    /// <summary>Gets or sets the next run in the group's <see cref="RunningJobs"/>; guarded by the group's lock.</summary>
    public JobContext? NextRunning { get; set; }

    /// <summary>Gets or sets a value indicating whether the run is in the group's <see cref="RunningJobs"/>; guarded by the group's lock.</summary>
    public bool IsRunning { get; set; }

    /// <summary>Gets a task that completes when the job's run has ended and its health scope is closed. It never faults.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Hands a block to the group, which calls <see cref="IDataflowBlock.Complete"/> on it when it
    /// stops. A block owned after the stop began is completed at once.
    /// </summary>
    public void Own(IDataflowBlock block)
    {
        lock (_blocksLock)
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
    /// Asks the application to shut down for a job with <c>ShutdownOnError</c> that failed: logs the
    /// request, then calls the group's <see cref="IShutdowner"/>. Without one, the request is logged
    /// as an error instead, so it is never lost silently. A throwing shutdowner is logged too.
    /// </summary>
    public void RequestShutdown(Exception error)
    {
        Log.ShutdownRequested(Logger, JobName);
        if (_shutdowner is null)
        {
            Log.NoShutdowner(Logger, JobName, error);
            return;
        }

        try
        {
            _shutdowner.Shutdown(error);
        }
        catch (Exception ex)
        {
            Log.ShutdownFailed(Logger, JobName, ex);
        }
    }

    /// <summary>Marks the run as ended; called once by the group.</summary>
    public void Complete() => _completion.TrySetResult();

    /// <summary>Completes every owned block; called by the group on stop.</summary>
    public void CompleteBlocks()
    {
        List<IDataflowBlock>? blocks;
        lock (_blocksLock)
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
}
