using System.Globalization;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// One stage of an executing pipeline: its block, its health scope (<c>stage-NAME</c>), its counts,
/// and what every stage does with an item: skip it after a stop, time it when someone records
/// durations, retry it, and fail it for good (log, count, health, dead letter, shutdown).
/// </summary>
/// <remarks>
/// User exceptions never travel through the blocks: a faulted block drops what it holds. An item
/// that fails for good, or is skipped after a stop, simply produces no output (a
/// <c>TransformBlock</c> skips an item whose delegate ends in cancellation, and a
/// <c>TransformManyBlock</c> an empty result). Counts are plain increments for a stage that runs
/// one item at a time (the block's own locking orders them) and interlocked otherwise.
/// </remarks>
internal abstract class PipelineStage
{
    private readonly bool _parallel;

    // Orders the stage's health writes: a report must not cover the Degraded of a failure that
    // came while it was written (docs/behaviour.md#rule-38).
    private readonly Lock _healthLock = new();
    private HandlerRoom? _room;
    private long _in;
    private long _out;
    private long _failed;
    private long _reportedOut;
    private bool _degraded;
    private IDisposable? _queueObservation;

    protected PipelineStage(PipelineJob job, string name, StageOptions options)
    {
        Job = job;
        Name = name;
        Options = options;
        _parallel = options.MaxDegreeOfParallelism != 1;
    }

    /// <summary>Gets the stage's sanitized name.</summary>
    public string Name { get; }

    public StageOptions Options { get; }

    /// <summary>Gets the stage's health scope, under the pipeline job's; guarded.</summary>
    public IHealth Health { get; private set; } = NullHealth.Instance;

    /// <summary>Gets the stage's block.</summary>
    public abstract IDataflowBlock Block { get; }

    /// <summary>Gets the number of items waiting in front of the stage.</summary>
    public abstract int QueueLength { get; }

    /// <summary>
    /// Gets a value indicating whether items wait in the stage's block to be worked on or taken by
    /// the next stage; read by a test kit. A batch stage's partial batch does not count: it waits
    /// for its delay, or for more items.
    /// </summary>
    public abstract bool HoldsItems { get; }

    /// <summary>Gets the number of items that entered the stage.</summary>
    public long In => Volatile.Read(ref _in);

    /// <summary>Gets the number of items that left the stage for the next one (for the sink: handled without error).</summary>
    public long Out => Volatile.Read(ref _out);

    /// <summary>Gets the number of items that failed for good in the stage.</summary>
    public long Failed => Volatile.Read(ref _failed);

    /// <summary>Gets a value indicating whether the stage's items are the arrays a batch stage made.</summary>
    public virtual bool GivesBatches => false;

    /// <summary>
    /// Gets or sets a value indicating whether the stage's input comes straight from a batch stage:
    /// a batch it skips stands for each of its items. Set while the blocks are built.
    /// </summary>
    public bool TakesBatches { get; set; }

    protected PipelineJob Job { get; }

    /// <summary>
    /// Gets the Dataflow options of the stage's block: bounded, with the stage's parallelism and order.
    /// A block's bound counts the items it works on too, so it is the capacity (the items that may
    /// wait) plus the parallelism, as for an observer's handler: a stage runs that many items at
    /// once whatever its capacity.
    /// </summary>
    protected ExecutionDataflowBlockOptions BlockOptions => new()
    {
        BoundedCapacity = Bound,
        MaxDegreeOfParallelism = Options.MaxDegreeOfParallelism,
        EnsureOrdered = Options.EnsureOrdered,
        TaskScheduler = Job.Context.BlockScheduler,
    };

    /// <summary>Gets a value indicating whether the stage's function counts each item as its block starts it (<see cref="CountIn"/>); a batch stage has no function.</summary>
    protected virtual bool CountsStarts => true;

    /// <summary>Gets the stage's capacity: its own, or the pipeline's.</summary>
    protected int Capacity => Options.BoundedCapacity ?? Job.Options.BoundedCapacity;

    /// <summary>Gets the bound of a block that calls the stage's function: its capacity plus its parallelism (see <see cref="BlockOptions"/>).</summary>
    private int Bound => Capacity == DataflowBlockOptions.Unbounded || Options.MaxDegreeOfParallelism == DataflowBlockOptions.Unbounded
        ? Capacity
        : (int)Math.Min((long)Capacity + Options.MaxDegreeOfParallelism, int.MaxValue);

    /// <summary>
    /// Opens the count of the items the stage's block starts, for the pump of a pulled source that
    /// feeds it, as an observer's handler does (see <see cref="HandlerRoom"/>): the pump then waits
    /// for a full block to drain by half instead of waking for every slot. Only a stage whose
    /// function counts each item as it starts it opens one, and only when the wait pays (see
    /// <see cref="HandlerRoom.ForBlock"/>). Called once, while the blocks are built, before any item.
    /// </summary>
    /// <returns>The count, or <see langword="null"/> when the stage opens none.</returns>
    public HandlerRoom? OpenRoom()
    {
        // The stage's token is the pump's send token: the stop's, or its deadline when draining.
        _room = CountsStarts ? HandlerRoom.ForBlock(Bound, Options.MaxDegreeOfParallelism, Job.StageToken) : null;
        return _room;
    }

    /// <summary>Ends a pump's wait for room for good: the stage's block starts no more items (see <see cref="HandlerRoom.Close"/>).</summary>
    public void CloseRoom() => _room?.Close();

    /// <summary>Opens the stage's health scope and the observation of its queue.</summary>
    public void Open(IHealth pipelineHealth)
    {
        Health = pipelineHealth.NewScope("stage-" + Name);
        Health.Ok("Primed");
        _queueObservation = Job.Context.Metrics.ObservePipelineStageQueue(Job.Name, Name, () => QueueLength);
    }

    /// <summary>The periodic report (see docs/behaviour.md#rule-38): the items that left since the last one, and the queue length.</summary>
    public void Report()
    {
        FlushItems();
        lock (_healthLock)
        {
            if (!_degraded)
            {
                Health.Ok(Running());
            }
        }
    }

    /// <summary>
    /// Reports the end of a pipeline whose source completed: <c>Stopped</c>, or <c>Degraded</c> when
    /// items failed for good in the stage, so that the failures stay visible until the group stops.
    /// </summary>
    public void Completed()
    {
        string status = string.Create(CultureInfo.InvariantCulture, $"Completed [out {Out}, failed {Failed}]");
        lock (_healthLock)
        {
            if (Failed > 0)
            {
                Health.Degraded(status, error: null);
            }
            else
            {
                Health.Stopped(status);
            }
        }
    }

    /// <summary>Stops observing the queue, and reports the items that left since the last report.</summary>
    public void Close()
    {
        _queueObservation?.Dispose();
        FlushItems();
    }

    /// <summary>Counts one item entering the stage: its block started it, to work on it or to skip it after a stop.</summary>
    protected void CountIn()
    {
        _room?.Started();
        if (_parallel)
        {
            Interlocked.Increment(ref _in);
        }
        else
        {
            _in++;
        }
    }

    /// <summary>Returns the block's delegate, counted as user code in flight while a test kit tracks the job (see <see cref="WorkCounter"/>).</summary>
    protected Func<TItem, TResult> Counted<TItem, TResult>(Func<TItem, TResult> invoke)
    {
        if (Job.Context.Work is not { } work)
        {
            return invoke;
        }

        return item =>
        {
            work.Enter();
            try
            {
                return invoke(item);
            }
            finally
            {
                work.Exit();
            }
        };
    }

    /// <summary>Returns the block's asynchronous delegate, counted as <see cref="Counted{TItem, TResult}"/> does.</summary>
    protected Func<TItem, Task<TResult>> CountedAsync<TItem, TResult>(Func<TItem, Task<TResult>> invoke)
    {
        if (Job.Context.Work is not { } work)
        {
            return invoke;
        }

        return item => work.CountAsync(invoke, item);
    }

    /// <summary>Returns the sink's delegate, counted as <see cref="Counted{TItem, TResult}"/> does.</summary>
    protected Func<TItem, Task> CountedAction<TItem>(Func<TItem, Task> invoke)
    {
        if (Job.Context.Work is not { } work)
        {
            return invoke;
        }

        return item => work.CountAsync(invoke, item);
    }

    /// <summary>Skips an item once the stage's token is cancelled (a stop), counting it as discarded.</summary>
    protected bool Skip<TItem>(TItem item)
    {
        if (!Job.StageToken.IsCancellationRequested)
        {
            return false;
        }

        Job.Discard(Weight(item));
        return true;
    }

    /// <summary>Starts timing an item: a clock read only when someone records stage durations, 0 otherwise.</summary>
    protected long StartTiming()
    {
        // Stryker disable once Conditional : a clock read when nobody records durations only costs time: the duration then goes to a no-op sink or to an instrument nobody listens to.
        return Job.Context.RecordsStageDurations ? Job.Time.GetTimestamp() : 0;
    }

    /// <summary>Counts an item the stage handled, producing <paramref name="outputs"/> items, and records its duration if timed.</summary>
    protected void Succeeded(long start, long outputs)
    {
        if (start != 0)
        {
            Job.Context.Metrics.PipelineStageDuration(Job.Name, Name, Durations.NotNegative(Job.Time.GetElapsedTime(start)));
        }

        if (_parallel)
        {
            Interlocked.Add(ref _out, outputs);
        }
        else
        {
            _out += outputs;
        }

        if (Volatile.Read(ref _degraded))
        {
            // The stage is Degraded while its last item failed (docs/behaviour.md#rule-38).
            lock (_healthLock)
            {
                if (_degraded)
                {
                    _degraded = false;
                    Health.Ok(Running());
                }
            }
        }
    }

    /// <summary>
    /// Tells whether a failed attempt ended because of the stop (a normal end, see
    /// docs/behaviour.md#rule-6): the item is then counted as discarded, not failed.
    /// </summary>
    protected bool EndedByCancellation<TItem>(TItem item, Exception error)
    {
        if (!Job.Context.EndedByCancellation(error, Job.StageToken))
        {
            return false;
        }

        Job.Discard(Weight(item));
        return true;
    }

    /// <summary>Fails an item for good on a thread that may block: the dead letter, when full, holds the stage back.</summary>
    protected void FailForGood<TItem>(TItem item, Exception error, int attempts)
    {
        DeadLetter? letter = ReportFailure(item, error, attempts);
        if (letter is not null)
        {
            Job.SendDeadLetter(letter, Weight(item));
        }
    }

    /// <summary>Fails an item for good from an asynchronous path: the dead letter is awaited.</summary>
    protected async Task FailForGoodAsync<TItem>(TItem item, Exception error, int attempts)
    {
        DeadLetter? letter = ReportFailure(item, error, attempts);
        if (letter is not null)
        {
            await Job.SendDeadLetterAsync(letter, Weight(item)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Retries an item whose attempt failed with <paramref name="error"/>, as the stage's options say,
    /// each retry after the backoff's delay (or a yield of the thread, without a delay). Returns the
    /// result of the attempt that succeeded; or nothing, when the item failed for good (reported
    /// here, dead letter included) or the stop ended it (counted as discarded).
    /// </summary>
    protected async Task<(bool Ok, TResult Value)> RetryAsync<TItem, TResult>(TItem item, Exception error, Func<TItem, CancellationToken, Task<TResult>> attempt)
    {
        CancellationToken token = Job.StageToken;
        for (int attempts = 1; ; attempts++)
        {
            if (EndedByCancellation(item, error))
            {
                return default;
            }

            if (Options.Retries != -1 && attempts > Options.Retries)
            {
                await FailForGoodAsync(item, error, attempts).ConfigureAwait(false);
                return default;
            }

            TimeSpan delay;
            try
            {
                delay = Options.Backoff?.GetDelay(attempts) ?? TimeSpan.Zero;
            }
            catch (Exception ex)
            {
                // A backoff that throws cannot say when to retry: the item fails for good with its error.
                await FailForGoodAsync(item, ex, attempts).ConfigureAwait(false);
                return default;
            }

            Log.PipelineItemRetrying(Job.Context.Logger, Job.Name, Name, attempts, error);
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    // Stryker disable once Equality : a delay of exactly the longest wait is that wait either way.
                    Task wait = Task.Delay(delay > Timers.MaxDelay ? Timers.MaxDelay : delay, Job.Time, token);
                    await (Job.Context.Work?.WaitOnTimeAsync(wait) ?? wait).ConfigureAwait(false);
                }
                else
                {
                    // Not on this stack: an item that fails at once, retried forever, must not keep the thread.
                    await ThreadPoolYield.Instance;
                }
            }
            catch (OperationCanceledException)
            {
                Job.Discard(Weight(item));
                return default;
            }

            try
            {
                Task<TResult> task = attempt(item, token) ?? throw NullTask();
                return (true, await task.ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                error = ex;
            }
        }
    }

    /// <summary>The error of a function that returned a null task instead of a task.</summary>
    protected InvalidOperationException NullTask() =>
        new($"The function of stage {Name} of pipeline job {Job.Name} returned a null Task.");

    /// <summary>How many source items a skipped item stands for: a batch from a batch stage counts its items, any other item one.</summary>
    private long Weight<TItem>(TItem item) => TakesBatches && item is Array batch ? batch.Length : 1;

    /// <summary>
    /// The failure path every kind shares (see <see cref="JobContext.Fail"/>), on the stage's health
    /// scope, and the counts of the stage and the pipeline. Returns the dead letter to send, if any.
    /// </summary>
    private DeadLetter? ReportFailure<TItem>(TItem item, Exception error, int attempts)
    {
        Interlocked.Increment(ref _failed);
        Job.CountFailed();
        Job.Context.Metrics.PipelineStageFailed(Job.Name, Name);
        string reason = string.Create(CultureInfo.InvariantCulture, $"Item failed: {error.Message} [queue {QueueLength}]");
        lock (_healthLock)
        {
            _degraded = true;
            Health.Degraded(reason, error);
        }

        string stage = Name;
        bool deadLetter = Job.Options.DeadLetter is not null;

        // Handed to a dead letter, a failed item takes the path the user planned for it: a warning.
        // Without one, it is lost to the pipeline: an error.
        Action<Microsoft.Extensions.Logging.ILogger, string, Exception> log = deadLetter
            ? (logger, name, exception) => Log.PipelineItemDeadLettered(logger, name, stage, attempts, exception)
            : (logger, name, exception) => Log.PipelineItemFailed(logger, name, stage, attempts, exception);

        // The stage's health is written above, in order with its reports.
        Job.Context.Fail(error, reason, log, activity: null, Job.Options.ShutdownOnError, NullHealth.Instance);
        return deadLetter ? new DeadLetter(Name, item, error, attempts) : null;
    }

    private string Running() => string.Create(CultureInfo.InvariantCulture, $"Running [out {Out}, queue {QueueLength}]");

    private void FlushItems()
    {
        // One read of Out: the stage may count more items meanwhile, and those belong to the next chunk.
        long @out = Out;
        long reported = Interlocked.Exchange(ref _reportedOut, @out);
        long items = @out - reported;
        if (items > 0)
        {
            Job.Context.Metrics.PipelineStageItems(Job.Name, Name, items);
        }
    }
}
