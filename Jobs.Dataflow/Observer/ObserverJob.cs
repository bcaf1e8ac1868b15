using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Runs a handler for each item of a source through a bounded <see cref="ActionBlock{T}"/>. A source
/// block links straight to it and a pulled stream is sent straight into it; an observable posts into
/// a bounded <see cref="BufferBlock{T}"/> linked to it.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class ObserverJob<T> : Job
{
    /// <summary>The least time between two <c>OK</c> health reports (rule 29).</summary>
    internal static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    private static readonly DataflowLinkOptions PropagateCompletion = new() { PropagateCompletion = true };

    private readonly ObserverFunc<T> _fn;
    private readonly ObserverSource<T> _source;
    private readonly ObserverOptions _options;

    public ObserverJob(string name, ObserverFunc<T> fn, ObserverSource<T> source, ObserverOptions options)
        : base(name)
    {
        _fn = fn;
        _source = source;
        _options = options;
        HealthScopeName = "observer-job-" + Name;
    }

    internal override string HealthScopeName { get; }

    internal override string Kind => JobKinds.Observer;

    internal override async Task RunAsync(JobContext context)
    {
        // A draining job outlives the group's token on purpose: its handler's token ends by the
        // stop's deadline instead, so the items it took are handled with a live token.
        bool drain = _options.DrainOnStop;
        CancellationToken handlerToken = drain ? context.StopDeadline : context.CancellationToken;
        var handler = new ItemHandler(this, context, handlerToken);

        // No CancellationToken on the blocks: a cancelled block drops what it holds without a
        // word. On stop the handler skips, and counts, each item it may no longer handle.
        var action = new ActionBlock<T>(handler.HandleAsync, new ExecutionDataflowBlockOptions
        {
            BoundedCapacity = ActionCapacity(_options, _source.FeedsHandlerDirectly),
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
        });

        ITargetBlock<T> target = action;
        if (!_source.FeedsHandlerDirectly)
        {
            var buffer = new BufferBlock<T>(new DataflowBlockOptions { BoundedCapacity = _options.BoundedCapacity });

            // Propagating is safe here: the sources only ever complete the buffer, never fault it.
            buffer.LinkTo(action, PropagateCompletion);
            target = buffer;
        }

        var feed = new ObserverFeed<T>(context, target, drain);
        handler.Feed = feed;
        if (_source.GroupCompletesTarget)
        {
            context.Own(target);
        }

        context.Health.Ok("Primed");
        Task<Exception?> ended = _source.FeedAsync(feed);
        await action.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Exception? fault = await ended.ConfigureAwait(false);
        await feed.WaitForReleaseAsync().ConfigureAwait(false);

        if (action.Completion.Exception is { } crash)
        {
            // The handler path catches everything and the context guards the user's reporters, so
            // only a bug of the library gets here. Let the group log it.
            ExceptionDispatchInfo.Throw(crash.InnerException ?? crash);
        }

        feed.LogDiscarded();
        if (context.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        long count = handler.Count;
        if (fault is null)
        {
            Log.ObserverSourceCompleted(context.Logger, Name, count);
            context.Health.Stopped(string.Create(CultureInfo.InvariantCulture, $"Completed [{count}]"));
            return;
        }

        Log.ObserverSourceFailed(context.Logger, Name, count, fault);
        context.ReportFailure(fault, $"Source failed: {fault.Message}", final: true, _options.ShutdownOnError);
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

    /// <summary>
    /// One run's handler state. Its <see cref="HandleAsync"/> is the action block's delegate: bound
    /// once per run, so handling an item allocates nothing when the user's handler completes
    /// synchronously.
    /// </summary>
    private sealed class ItemHandler
    {
        private readonly ObserverJob<T> _job;
        private readonly JobContext _context;
        private readonly TimeProvider _time;
        private readonly CancellationToken _token;
        private readonly bool _trace;
        private long _count;
        private long _lastReport;

        public ItemHandler(ObserverJob<T> job, JobContext context, CancellationToken token)
        {
            _job = job;
            _context = context;
            _time = context.TimeProvider;
            _token = token;
            _trace = job._options.TraceItems;
            _lastReport = _time.GetTimestamp();
        }

        /// <summary>Gets the number of items handled without error.</summary>
        public long Count => Interlocked.Read(ref _count);

        /// <summary>Gets or sets the run's feed, which counts the items skipped after a stop; set before the first item.</summary>
        public ObserverFeed<T> Feed { get; set; } = null!;

        public Task HandleAsync(T item)
        {
            if (_token.IsCancellationRequested)
            {
                // Rule 5: no item starts once the handler's token is cancelled. Rule 27: it is
                // counted, and the job logs the count when it ends.
                Feed.Discard();
                return Task.CompletedTask;
            }

            return _trace ? HandleTracedAsync(item) : HandleCoreAsync(item);
        }

        /// <summary>
        /// Handles an item inside its own activity. Being an async method, it keeps the activity
        /// as <see cref="Activity.Current"/> for this item only: the change does not flow back
        /// into the block's loop and the next item.
        /// </summary>
        private async Task HandleTracedAsync(T item)
        {
            using Activity? activity = JobActivities.StartRun(_context, JobKinds.Observer);
            await HandleCoreAsync(item).ConfigureAwait(false);
        }

        private Task HandleCoreAsync(T item)
        {
            long start = _time.GetTimestamp();
            Task task;
            try
            {
                task = _job._fn(item, _token);
            }
            catch (Exception ex)
            {
                Failed(ex, start);
                return Task.CompletedTask;
            }

            if (task is null)
            {
                Failed(new InvalidOperationException($"The handler of observer job {_job.Name} returned a null Task."), start);
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
        /// Reports a handled item. The context's health and metrics are guarded and its logger
        /// never throws, so nothing here can fault the action block (which would drop every
        /// buffered item and stop taking from the source).
        /// </summary>
        private void Succeeded(long start)
        {
            long end = _time.GetTimestamp();
            TimeSpan duration = Durations.NotNegative(_time.GetElapsedTime(start, end));
            _context.Metrics.ObserverRunDuration(_job.Name, duration);
            long count = Interlocked.Increment(ref _count);

            // Rule 29: at most one OK report per interval. DURATION is this item's handler time;
            // the compare-exchange lets one of several parallel handlers make the report.
            long last = Volatile.Read(ref _lastReport);
            if (_time.GetElapsedTime(last, end) >= ReportInterval && Interlocked.CompareExchange(ref _lastReport, end, last) == last)
            {
                _context.Health.Ok(string.Create(CultureInfo.InvariantCulture, $"OK ({Durations.Format(duration)}) [{count}]"));
            }
        }

        private void Failed(Exception error, long start)
        {
            _context.Metrics.ObserverRunDuration(_job.Name, Durations.NotNegative(_time.GetElapsedTime(start)));
            if (_token.IsCancellationRequested)
            {
                // Rule 6: whatever the handler throws once its token is cancelled is a normal end.
                Log.JobCancelled(_context.Logger, _job.Name, error is OperationCanceledException ? null : error);
                return;
            }

            if (_trace)
            {
                JobActivities.Fail(Activity.Current, error);
            }

            Log.ObserverHandlerFailed(_context.Logger, _job.Name, error);
            _context.ReportFailure(error, $"Handler failed: {error.Message}", final: false, _job._options.ShutdownOnError);
        }
    }
}
