using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// A <c>Batch</c> stage: a <see cref="BatchBlock{T}"/> that groups items into arrays of the batch
/// size, and a timer that makes a partial batch leave <c>maxDelay</c> after its first item arrived
/// (see docs/behaviour.md#rule-34).
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// A <see cref="BatchBlock{T}"/> cannot say how many items its current batch holds, so the stage
/// counts them on the links: the link into it counts each item as it is offered (<see cref="Admit"/>),
/// the link out of it each batch as it leaves (<see cref="Leave"/>). Items that arrived and have not
/// left are pending. The timer is armed for <c>maxDelay</c> when the first item arrives with none
/// pending, and, when a batch leaves, again from that moment if items are still pending, or
/// disarmed if none is: it never cuts short a batch whose first item arrived after it was armed.
/// When it fires it calls <see cref="BatchBlock{T}.TriggerBatch"/>, which outputs the partial
/// batch (never an empty one), and arms itself again while items are pending, in case the batch
/// block was full and the trigger found nothing to output.
/// </para>
/// <para>
/// The block is bounded to at least one whole batch, whatever the pipeline's capacity says, so
/// a full batch can always form. The source's end completes the block, which outputs the last
/// partial batch.
/// </para>
/// </remarks>
internal sealed class BatchStage<T> : PipelineStage<T, T[]>, IBatchTimer
{
    private readonly BatchBlock<T> _block;
    private readonly TimeSpan _maxDelay;
    private readonly ITimer? _timer;
    private readonly Lock _timerLock = new();
    private long _arrived;
    private long _left;
    private bool _armed;

    public BatchStage(PipelineJob job, string name, int size, TimeSpan maxDelay)
        : base(job, name, StageOptions.Default)
    {
        _maxDelay = maxDelay;
        int capacity = Capacity;
        _block = new BatchBlock<T>(size, new GroupingDataflowBlockOptions
        {
            BoundedCapacity = capacity == DataflowBlockOptions.Unbounded ? capacity : Math.Max(size, capacity),
        });

        if (maxDelay > TimeSpan.Zero)
        {
            // On the group's clock: tests drive batch delays with a fake one.
            _timer = job.Time.CreateTimer(static state => ((BatchStage<T>)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        Admit = Arrive;
        Leave = Depart;
    }

    public override IDataflowBlock Block => _block;

    /// <summary>Gets the items that arrived and have not left in a batch.</summary>
    public override int QueueLength => (int)Math.Min(Pending, int.MaxValue);

    public override ITargetBlock<T> Target => _block;

    public override ISourceBlock<T[]> Source => _block;

    public override Predicate<T>? Admit { get; }

    public override Predicate<T[]>? Leave { get; }

    public override bool GivesBatches => true;

    private long Pending => Interlocked.Read(ref _arrived) - Interlocked.Read(ref _left);

    /// <summary>Disposes the timer; called when the job ends.</summary>
    public void StopTimer() => _timer?.Dispose();

    private bool Arrive(T item)
    {
        CountIn();
        Interlocked.Increment(ref _arrived);
        if (_timer is not null && !Volatile.Read(ref _armed))
        {
            lock (_timerLock)
            {
                if (!_armed)
                {
                    _armed = true;
                    _timer.Change(_maxDelay, Timeout.InfiniteTimeSpan);
                }
            }
        }

        return true;
    }

    private bool Depart(T[] batch)
    {
        Interlocked.Add(ref _left, batch.Length);
        Succeeded(0, batch.Length);
        Rearm();
        return true;
    }

    private void OnTimer()
    {
        _block.TriggerBatch();
        Rearm();
    }

    /// <summary>Arms the timer afresh while items are pending, disarms it otherwise.</summary>
    private void Rearm()
    {
        if (_timer is null)
        {
            return;
        }

        lock (_timerLock)
        {
            _armed = Pending > 0;
            _timer.Change(_armed ? _maxDelay : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }
}
