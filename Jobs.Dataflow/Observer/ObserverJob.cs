using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Runs a handler for each item of a source through a bounded <see cref="ActionBlock{T}"/> (see
/// docs/behaviour.md#rule-23 to #rule-29). A source block links straight to it and a pulled stream
/// is sent straight into it; an observable posts into a bounded <see cref="BufferBlock{T}"/>
/// linked to it.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// The path of one item: the source's adapter in <c>Sources/</c> takes it (a pump pulls it and
/// sends it into the block, an observable's push posts it, a source block offers it) through the
/// run's <see cref="SourceFeed{T}"/>; the action block calls <see cref="HandleAsync"/>, which
/// runs the user's handler and reports the item. <see cref="HandleAsync"/> is bound once, so
/// handling an item allocates nothing when the user's handler completes synchronously.
/// </remarks>
internal sealed class ObserverJob<T> : Job
{
    /// <summary>The least time between two <c>OK</c> health reports (docs/behaviour.md#rule-29).</summary>
    internal static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    private static readonly DataflowLinkOptions PropagateCompletion = new() { PropagateCompletion = true };

    private readonly ObserverFunc<T> _fn;
    private readonly JobSource<T> _source;
    private readonly ObserverOptions _options;

    // Set once when the job starts executing, before the first item.
    private JobContext _context = null!;
    private SourceFeed<T> _feed = null!;
    private TimeProvider _time = TimeProvider.System;
    private CancellationToken _handlerToken;
    private bool _parallel;
    private long _count;
    private int _reportDue;
    private ITimer? _reportTimer;
    private ActionBlock<T>? _action;
    private BufferBlock<T>? _buffer;
    private HandlerRoom? _room;

    public ObserverJob(string name, ObserverFunc<T> fn, JobSource<T> source, ObserverOptions options)
        : base(name)
    {
        _fn = fn;
        _source = source;
        _options = options;
    }

    internal override string Kind => JobKinds.Observer;

    /// <summary>Gets the handler's block, once the job has built it; a test may fault it to stand for a bug of the library.</summary>
    internal IDataflowBlock? HandlerBlock => Volatile.Read(ref _action);

    private protected override string HealthScopePrefix => "observer-job-";

    /// <summary>Busy while starting, while items wait in its blocks or in the handler or a block passes one on, and while its source has items at hand.</summary>
    internal override void DescribeBusy(JobContext context, List<string> busy)
    {
        if (!context.Settled)
        {
            busy.Add($"observer job {Name}: starting");
            return;
        }

        int waiting = (Volatile.Read(ref _action)?.InputCount ?? 0) + (_buffer?.Count ?? 0);
        long handling = context.Work?.Busy ?? 0;
        if (waiting > 0 || handling > 0)
        {
            busy.Add($"observer job {Name}: {handling} item(s) in the handler, {waiting} waiting");
        }
        else if (context.Work is { Moving: true })
        {
            busy.Add($"observer job {Name}: its blocks are passing items on");
        }
        else if (_source.InSourceCall)
        {
            busy.Add($"observer job {Name}: in a call to its source");
        }
        else if (!_source.IsAtRest)
        {
            busy.Add($"observer job {Name}: its source has items at hand");
        }
    }

    internal override async Task ExecuteAsync(JobContext context)
    {
        // A draining job outlives the group's token on purpose: its handler's token ends by the
        // stop's deadline instead, so the items it took are handled with a live token.
        bool drain = _options.DrainOnStop;
        _context = context;
        _time = context.TimeProvider;
        _handlerToken = drain ? context.StopDeadline : context.CancellationToken;
        _parallel = _options.MaxDegreeOfParallelism != 1;

        // No CancellationToken on the blocks: a cancelled block drops what it holds without a
        // word. On stop the handler skips, and counts, each item it may no longer handle.
        var action = new ActionBlock<T>(HandleAsync, new ExecutionDataflowBlockOptions
        {
            BoundedCapacity = ActionCapacity(_options, _source.FeedsHandlerDirectly),
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
            TaskScheduler = context.BlockScheduler,
        });

        ITargetBlock<T> target = action;
        if (!_source.FeedsHandlerDirectly)
        {
            var buffer = new BufferBlock<T>(new DataflowBlockOptions { BoundedCapacity = _options.BoundedCapacity, TaskScheduler = context.BlockScheduler });

            // Propagating is safe here: the sources only ever complete the buffer, never fault it.
            buffer.LinkTo(action, PropagateCompletion);
            target = buffer;
            _buffer = buffer;
        }

        Volatile.Write(ref _action, action);

        // A pump that finds the block full waits until half its items have started (see
        // HandlerRoom), when that pays. The handler's token is the pump's send token: the stop's,
        // or its deadline when draining.
        if (_source.IsPumped)
        {
            _room = HandlerRoom.ForBlock(ActionCapacity(_options, _source.FeedsHandlerDirectly), _options.MaxDegreeOfParallelism, _handlerToken);
        }

        _feed = new SourceFeed<T>(context, target, drain) { Room = _room };
        if (_source.GroupCompletesTarget)
        {
            context.Own(target);
        }

        context.Health.Ok("Primed");

        // The timer only raises a flag: the item that starts after it handles the report, so no
        // item reads the clock for it, and the timer is armed again only by a report, so an idle
        // job runs no periodic timer.
        _reportTimer = _time.CreateTimer(static state => Volatile.Write(ref ((ObserverJob<T>)state!)._reportDue, 1), this, ReportInterval, Timeout.InfiniteTimeSpan);
        Task<Exception?> ended = _source.FeedAsync(_feed);
        context.Settle();
        await action.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // The block starts no more items. Only the pump completes it, so a pump still waiting for
        // room means the block faulted (a bug of the library): let the pump go.
        _room?.Close();
        Exception? fault = await ended.ConfigureAwait(false);
        await _feed.WaitForReleaseAsync().ConfigureAwait(false);
        _reportTimer.Dispose();
        _feed.LogDiscarded(blockFailed: action.Completion.IsFaulted);
        if (action.Completion.Exception is { } crash)
        {
            // The handler catches everything and the context guards the user's reporters, so only
            // a bug of the library gets here. Let the group log it, after the count of discarded items.
            ExceptionDispatchInfo.Throw(crash.InnerException ?? crash);
        }

        if (context.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        long count = Volatile.Read(ref _count);
        if (fault is null)
        {
            Log.ObserverSourceCompleted(context.Logger, Name, count);
            context.Health.Stopped(string.Create(CultureInfo.InvariantCulture, $"Completed [{count}]"));
            return;
        }

        string reason = $"Source failed: {fault.Message}";
        context.Fail(fault, reason, (logger, name, error) => Log.ObserverSourceFailed(logger, name, count, error), activity: null, shutdown: false);
        context.GiveUp(fault, reason, _options.ShutdownOnError);
    }

    /// <summary>
    /// The handler block's capacity. It counts the items in the handler too. Behind a buffer, it
    /// holds only those; fed directly (a source block, a pulled stream), it is the buffer as well.
    /// </summary>
    private static int ActionCapacity(ObserverOptions options, bool direct)
    {
        int capacity = options.BoundedCapacity;
        int parallelism = options.MaxDegreeOfParallelism;
        if (parallelism == DataflowBlockOptions.Unbounded)
        {
            return capacity;
        }

        if (!direct)
        {
            return parallelism;
        }

        return capacity == DataflowBlockOptions.Unbounded ? capacity : (int)Math.Min((long)capacity + parallelism, int.MaxValue);
    }

    /// <summary>The action block's delegate: handles one item, or skips and counts it after a stop.</summary>
    private Task HandleAsync(T item)
    {
        _room?.Started();
        if (_handlerToken.IsCancellationRequested)
        {
            // No item starts once the handler's token is cancelled (docs/behaviour.md#rule-5); it is
            // counted, and the job logs the count when it ends (#rule-27).
            _feed.Discard();
            return Task.CompletedTask;
        }

        if (_context.Work is { } work)
        {
            // Counted as user code in flight while a test kit tracks the job; allocates per item, so only then.
            return work.CountAsync(static state => state.Job.HandleUncountedAsync(state.Item), (Job: this, Item: item));
        }

        return HandleUncountedAsync(item);
    }

    private Task HandleUncountedAsync(T item) => _options.TraceItems ? HandleTracedAsync(item) : HandleCoreAsync(item);

    /// <summary>
    /// Handles an item inside its own activity. Being an async method, it keeps the activity as
    /// <see cref="Activity.Current"/> for this item only: the change does not flow back into the
    /// block's loop and the next item.
    /// </summary>
    private async Task HandleTracedAsync(T item)
    {
        using Activity? activity = JobActivities.StartRun(_context, JobKinds.Observer);
        await HandleCoreAsync(item).ConfigureAwait(false);
    }

    private Task HandleCoreAsync(T item)
    {
        // The clock is read only for a duration someone consumes: a metrics listener, or the
        // periodic report this item makes. 0 means "not timed".
        long start = Volatile.Read(ref _reportDue) != 0 || _context.RecordsObserverDurations ? _time.GetTimestamp() : 0;
        Task task;
        try
        {
            task = _fn(item, _handlerToken);
        }
        catch (Exception ex)
        {
            Failed(ex, start);
            return Task.CompletedTask;
        }

        if (task is null)
        {
            Failed(new InvalidOperationException($"The handler of observer job {Name} returned a null Task."), start);
            return Task.CompletedTask;
        }

        if (task.IsCompletedSuccessfully)
        {
            Succeeded(start);
            return Task.CompletedTask;
        }

        return AwaitAsync(task, start);
    }

    private async Task AwaitAsync(Task task, long start)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Failed(ex, start);
            return;
        }

        Succeeded(start);
    }

    /// <summary>
    /// Reports a handled item. The context's health and metrics are guarded and its logger never
    /// throws, so nothing here can fault the action block (which would drop every buffered item and
    /// stop taking from the source).
    /// </summary>
    private void Succeeded(long start)
    {
        long count = _parallel ? Interlocked.Increment(ref _count) : ++_count;
        if (start == 0)
        {
            return;
        }

        TimeSpan duration = Durations.NotNegative(_time.GetElapsedTime(start));
        if (_context.RecordsObserverDurations)
        {
            _context.Metrics.ObserverRunDuration(Name, duration, RunOutcome.Ok, error: null);
        }

        // At most one OK report per interval (docs/behaviour.md#rule-29); of several items in
        // parallel, the one that takes the flag makes it, with its own duration.
        if (Volatile.Read(ref _reportDue) != 0 && Interlocked.Exchange(ref _reportDue, 0) != 0)
        {
            _context.Health.Ok(string.Create(CultureInfo.InvariantCulture, $"OK ({Durations.Format(duration)}) [{count}]"));
            _reportTimer?.Change(ReportInterval, Timeout.InfiniteTimeSpan);
        }
    }

    private void Failed(Exception error, long start)
    {
        if (start != 0 && _context.RecordsObserverDurations)
        {
            _context.Metrics.ObserverRunDuration(
                Name, Durations.NotNegative(_time.GetElapsedTime(start)), Outcomes.Of(error, _handlerToken), error);
        }

        if (!_context.EndedByCancellation(error, _handlerToken))
        {
            Activity? activity = _options.TraceItems ? Activity.Current : null;
            _context.Fail(error, $"Handler failed: {error.Message}", Log.ObserverHandlerFailed, activity, _options.ShutdownOnError);
        }
    }
}
