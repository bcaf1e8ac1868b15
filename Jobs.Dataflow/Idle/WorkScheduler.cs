namespace Jobs.Dataflow;

/// <summary>
/// The task scheduler of a tracked job's blocks: runs their tasks on the thread pool, as the
/// default scheduler does, and counts those queued or running, so that a test kit sees an item
/// while a block moves it (see <see cref="WorkCounter"/>).
/// </summary>
/// <remarks>
/// <para>
/// A block's counts alone leave gaps: a block takes an item out of its input queue before it calls
/// its delegate, and puts a result in its output queue after the delegate returned. In between, a
/// thread that is preempted holds an item nobody sees. A block does both inside one of its tasks,
/// so the task, counted from the moment it is queued until it has run, covers the gaps.
/// </para>
/// <para>
/// Made only while a test kit tracks the group. User code that a block calls sees it as
/// <see cref="TaskScheduler.Current"/>: tasks it starts without a scheduler, and continuations
/// that return to it, are counted as the job's work too.
/// </para>
/// </remarks>
internal sealed class WorkScheduler : TaskScheduler
{
    private readonly IdleTracker _tracker;
    private readonly Action<Task> _run;
    private long _tasks;

    public WorkScheduler(IdleTracker tracker)
    {
        _tracker = tracker;
        _run = Run;
    }

    /// <summary>Gets the tasks queued to the scheduler or running on it.</summary>
    public long Tasks => Interlocked.Read(ref _tasks);

    /// <summary>Queues a task to the thread pool, or to a thread of its own when it asks to run long.</summary>
    protected override void QueueTask(Task task)
    {
        // Counted first: the task may run and end before the queueing returns.
        Entered();
        try
        {
            if ((task.CreationOptions & TaskCreationOptions.LongRunning) != 0)
            {
                new Thread(() => Run(task)) { IsBackground = true }.UnsafeStart();
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(_run, task, preferLocal: false);
            }
        }
        catch
        {
            // Never queued: the block that started it faults with the error.
            Left();
            throw;
        }
    }

    /// <summary>
    /// Runs a task on the calling thread (a wait on it, a continuation that asks to run
    /// synchronously), counted while it runs. One already queued is counted until its work item
    /// has run: that work item then finds it done.
    /// </summary>
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
    {
        if (taskWasPreviouslyQueued)
        {
            return TryExecuteTask(task);
        }

        Entered();
        try
        {
            return TryExecuteTask(task);
        }
        finally
        {
            Left();
        }
    }

    /// <summary>Not supported: the queued tasks are the thread pool's.</summary>
    protected override IEnumerable<Task> GetScheduledTasks() => throw new NotSupportedException();

    private void Run(Task task)
    {
        try
        {
            TryExecuteTask(task);
        }
        finally
        {
            Left();
        }
    }

    private void Entered()
    {
        Interlocked.Increment(ref _tasks);
        _tracker.Touch();
    }

    private void Left()
    {
        Interlocked.Decrement(ref _tasks);
        _tracker.Touch();
    }
}
