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
/// left are pending. A batch may form and still wait in the block (the next stage is full), so the
/// stage also counts the items that are in batches already: a batch forms when <c>size</c> items
/// have arrived since the last one, or when the timer triggers it. The items after those form the
/// current batch, and the stage notes when its first item arrived.
/// </para>
/// <para>
/// The timer is due when the current batch's first item will have waited <c>maxDelay</c>. When it
/// fires early (it was armed for a batch that has formed since), it is armed again for the
/// remainder: it never cuts short a batch whose first item arrived after it was armed. When due, it
/// calls <see cref="BatchBlock{T}.TriggerBatch"/>, which outputs the partial batch (never an empty
/// one). While items are pending in batches that have not left, it is armed for <c>maxDelay</c>
/// from then, and triggers again when it fires: a trigger outputs whatever partial batch the block
/// holds, in case the block was full and the counts got ahead of it. With nothing pending it is
/// disarmed.
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
    private readonly int _size;
    private readonly TimeSpan _maxDelay;
    private readonly TimeProvider _time;
    private readonly ITimer? _timer;
    private readonly Lock _timerLock = new();
    private long _arrived;
    private long _left;

    // Guarded by _timerLock.
    private long _formed;
    private long _currentSince;
    private bool _armed;

    // Set when the timer triggers a batch, cleared when a batch leaves; read by a test kit.
    private bool _triggered;

    public BatchStage(PipelineJob job, string name, int size, TimeSpan maxDelay)
        : base(job, name, StageOptions.Default)
    {
        _size = size;
        _maxDelay = maxDelay;
        _time = job.Time;
        int capacity = Capacity;
        _block = new BatchBlock<T>(size, new GroupingDataflowBlockOptions
        {
            BoundedCapacity = capacity == DataflowBlockOptions.Unbounded ? capacity : Math.Max(size, capacity),
            TaskScheduler = job.Context.BlockScheduler,
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

    // Batches formed and not yet taken; a partial batch waits for its delay or for more items.
    // A bounded batch block forms a triggered batch on a task of its own: until it has, and the
    // batch has left, the trigger counts as items waiting.
    public override bool HoldsItems => _block.OutputCount > 0 || Volatile.Read(ref _triggered);

    public override ITargetBlock<T> Target => _block;

    public override ISourceBlock<T[]> Source => _block;

    public override Predicate<T>? Admit { get; }

    public override Predicate<T[]>? Leave { get; }

    public override bool GivesBatches => true;

    // Items arrive on the link, as they are offered, not as a function starts them.
    protected override bool CountsStarts => false;

    private long Pending => Interlocked.Read(ref _arrived) - Interlocked.Read(ref _left);

    /// <summary>Disposes the timer; called when the job ends.</summary>
    public void StopTimer() => _timer?.Dispose();

    private bool Arrive(T item)
    {
        CountIn();
        long arrived = Interlocked.Increment(ref _arrived);
        if (_timer is not null)
        {
            lock (_timerLock)
            {
                long current = arrived - _formed;
                if (current >= _size)
                {
                    // This item fills the current batch: the block outputs it now.
                    _formed = arrived;
                }
                else if (current == 1)
                {
                    // This item starts a batch, which leaves maxDelay from now at the latest.
                    _currentSince = _time.GetTimestamp();
                    if (!_armed)
                    {
                        _armed = true;
                        _timer.Change(_maxDelay, Timeout.InfiniteTimeSpan);
                    }
                }
            }
        }

        return true;
    }

    private bool Depart(T[] batch)
    {
        Interlocked.Add(ref _left, batch.Length);
        Volatile.Write(ref _triggered, false);
        Succeeded(0, batch.Length);
        Rearm();
        return true;
    }

    private void OnTimer()
    {
        lock (_timerLock)
        {
            if (Interlocked.Read(ref _arrived) > _formed && _time.GetElapsedTime(_currentSince) < _maxDelay)
            {
                // Armed for a batch that has formed since: the current one's first item has not waited maxDelay yet.
                ArmLocked();
                return;
            }

            _formed = Interlocked.Read(ref _arrived);
        }

        Volatile.Write(ref _triggered, true);
        _block.TriggerBatch();
        Rearm();
    }

    /// <summary>Arms the timer afresh for the current batch, or while items are pending, and disarms it otherwise.</summary>
    private void Rearm()
    {
        if (_timer is null)
        {
            return;
        }

        lock (_timerLock)
        {
            ArmLocked();
        }
    }

    /// <summary>
    /// Arms the timer for when the current batch's first item will have waited maxDelay; with no
    /// current batch but items pending in batches that have not left, for maxDelay from now;
    /// disarms it when nothing is pending. Called under the timer's lock.
    /// </summary>
    private void ArmLocked()
    {
        TimeSpan due = Timeout.InfiniteTimeSpan;
        if (Interlocked.Read(ref _arrived) > _formed)
        {
            // Never zero: the timer would fire on this thread, inside this lock.
            TimeSpan remaining = _maxDelay - _time.GetElapsedTime(_currentSince);
            due = remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1);
        }
        else if (Pending > 0)
        {
            due = _maxDelay;
        }

        _armed = due != Timeout.InfiniteTimeSpan;
        _timer!.Change(due, Timeout.InfiniteTimeSpan);
    }
}
