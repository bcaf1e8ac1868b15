namespace Jobs.Dataflow;

/// <summary>
/// How many calls of a job's user code (a run, an attempt, a handler call, a stage's function) are
/// in flight, and which of them wait for a delay on the group's clock; kept only while a test kit
/// tracks the group (see <see cref="IdleTracker"/>).
/// </summary>
internal sealed class WorkCounter
{
    private readonly IdleTracker _tracker;
    private readonly List<Task> _delays = [];
    private long _inFlight;

    public WorkCounter(IdleTracker tracker)
    {
        _tracker = tracker;
        Scheduler = new WorkScheduler(tracker);
    }

    /// <summary>Gets the scheduler of the job's blocks, which counts their tasks (see <see cref="WorkScheduler"/>).</summary>
    public WorkScheduler Scheduler { get; }

    /// <summary>Gets a value indicating whether a task of the job's blocks is queued or running: an item is on its way.</summary>
    public bool Moving => Scheduler.Tasks > 0;

    /// <summary>Gets the calls in flight.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>
    /// Gets the calls in flight that do not wait on time: those in flight, less those waiting for
    /// a delay of the library (a stage's retry backoff) that has not elapsed. A delay that has
    /// elapsed counts as busy until its call goes on.
    /// </summary>
    public long Busy
    {
        get
        {
            int waiting = 0;
            lock (_delays)
            {
                foreach (Task delay in _delays)
                {
                    if (!delay.IsCompleted)
                    {
                        waiting++;
                    }
                }
            }

            return InFlight - waiting;
        }
    }

    /// <summary>Gets a value indicating whether a delay on the group's clock is pending (see <see cref="WaitOnTimeAsync"/>).</summary>
    public bool WaitsOnTime
    {
        get
        {
            lock (_delays)
            {
                foreach (Task delay in _delays)
                {
                    if (!delay.IsCompleted)
                    {
                        return true;
                    }
                }
            }

            return false;
        }
    }

    /// <summary>Counts a call that starts.</summary>
    public void Enter()
    {
        Interlocked.Increment(ref _inFlight);
        _tracker.Touch();
    }

    /// <summary>Counts a call that ended, however it ended.</summary>
    public void Exit()
    {
        Interlocked.Decrement(ref _inFlight);
        _tracker.Touch();
    }

    /// <summary>
    /// Calls asynchronous user code counted as in flight (<see cref="Enter"/>, <see cref="Exit"/>),
    /// for a block to await: the count ends once the call's task has completed and what the block
    /// runs synchronously on its completion (taking its result, queueing its next task) has run.
    /// Ending it before the block saw the result would leave the item unseen in between.
    /// </summary>
    /// <typeparam name="TArg">The type of the call's argument.</typeparam>
    /// <param name="call">The call.</param>
    /// <param name="arg">Its argument.</param>
    /// <returns>The call's task, or one that completes as it does.</returns>
    /// <remarks>
    /// The block sees what it would see without the count: a call that throws throws to it, and a
    /// null task reaches it as null. The block's continuation is counted when the task's runtime runs
    /// it inline, as it does unless the completing thread's stack is nearly exhausted.
    /// </remarks>
    public Task CountAsync<TArg>(Func<TArg, Task> call, TArg arg)
    {
        Task task = Call(call, arg);
        if (EndedAtOnce(task))
        {
            return task;
        }

        // The block's continuations run synchronously as this one completes its task, before Exit.
        var done = new TaskCompletionSource();
        task.ContinueWith(
            static (completed, state) =>
            {
                var (counter, done) = ((WorkCounter, TaskCompletionSource))state!;
                done.SetFromTask(completed);
                counter.Exit();
            },
            (this, done),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return done.Task;
    }

    /// <inheritdoc cref="CountAsync{TArg}(Func{TArg, Task}, TArg)"/>
    /// <typeparam name="TArg">The type of the call's argument.</typeparam>
    /// <typeparam name="TResult">The type of the call's result.</typeparam>
    public Task<TResult> CountAsync<TArg, TResult>(Func<TArg, Task<TResult>> call, TArg arg)
    {
        Task<TResult> task = Call(call, arg);
        if (EndedAtOnce(task))
        {
            return task;
        }

        var done = new TaskCompletionSource<TResult>();
        task.ContinueWith(
            static (completed, state) =>
            {
                var (counter, done) = ((WorkCounter, TaskCompletionSource<TResult>))state!;
                done.SetFromTask(completed);
                counter.Exit();
            },
            (this, done),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return done.Task;
    }

    /// <summary>Awaits a delay on the group's clock (inside a call in flight, or between calls): the job waits on time meanwhile, and a test kit may advance the clock.</summary>
    /// <param name="delay">The delay.</param>
    /// <returns>A task that completes as <paramref name="delay"/> does.</returns>
    public async Task WaitOnTimeAsync(Task delay)
    {
        lock (_delays)
        {
            _delays.Add(delay);
        }

        _tracker.Touch();
        try
        {
            await delay.ConfigureAwait(false);
        }
        finally
        {
            lock (_delays)
            {
                // Stryker disable once Statement : Busy and WaitsOnTime skip a delay that has completed; only memory tells, and only in a test kit's group.
                _delays.Remove(delay);
            }

            _tracker.Touch();
        }
    }

    /// <summary>Enters, then makes the call; a call that throws is exited and rethrown, as the block would see it.</summary>
    private TTask Call<TArg, TTask>(Func<TArg, TTask> call, TArg arg)
        where TTask : Task
    {
        Enter();
        try
        {
            return call(arg);
        }
        catch
        {
            Exit();
            throw;
        }
    }

    /// <summary>
    /// Exits a call whose task is null or complete: the block takes that result on the thread
    /// that called it, inside one of its counted tasks. False for a task still running.
    /// </summary>
    private bool EndedAtOnce(Task? task)
    {
        if (task is null || task.IsCompleted)
        {
            Exit();
            return true;
        }

        return false;
    }
}
