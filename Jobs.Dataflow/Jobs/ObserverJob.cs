using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Internal;

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
        // A draining job outlives the group's token on purpose: its blocks and its handler's token
        // end by the stop's deadline instead, so the items it took are handled with a live token.
        CancellationToken handlerToken = _options.DrainOnStop ? context.StopDeadline : context.CancellationToken;
        var handler = new ItemHandler(this, context, handlerToken);
        var action = new ActionBlock<T>(handler.HandleAsync, new ExecutionDataflowBlockOptions
        {
            BoundedCapacity = ActionCapacity(_options, _source.FeedsHandlerDirectly),
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
            CancellationToken = handlerToken,
        });

        ITargetBlock<T> target = action;
        if (!_source.FeedsHandlerDirectly)
        {
            var buffer = new BufferBlock<T>(new DataflowBlockOptions
            {
                BoundedCapacity = _options.BoundedCapacity,
                CancellationToken = handlerToken,
            });

            // Propagating is safe here: the sources only ever complete the buffer, never fault it.
            buffer.LinkTo(action, PropagateCompletion);
            target = buffer;
        }

        // The group completes the block the source feeds when it stops: that detaches the source,
        // and what the job holds is then discarded (cancelled blocks) or drained (DrainOnStop).
        context.Own(target);
        context.Health.Ok("Primed");

        Task<Exception?> feed = _source.FeedAsync(target, context.CancellationToken);
        await action.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Exception? fault = await feed.ConfigureAwait(false);

        if (action.Completion.Exception is { } crash)
        {
            // The handler path catches everything, the user's reporters' failures included, so only
            // a bug of the library gets here. Let the group log it.
            ExceptionDispatchInfo.Throw(crash.InnerException ?? crash);
        }

        if (fault is SourceDetachException detach)
        {
            Log.ObserverDetachFailed(context.Logger, Name, detach.InnerException!);
            fault = null;
        }

        if (context.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        if (fault is null)
        {
            Log.ObserverSourceCompleted(context.Logger, Name, handler.Count);
            return;
        }

        Log.ObserverSourceFailed(context.Logger, Name, handler.Count, fault);
        context.Metrics.JobError(Name, fault);
        context.Health.Degraded($"Source failed: {fault.Message}", fault);
        ShutdownIfAsked(context, fault);
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

    private void ShutdownIfAsked(JobContext context, Exception error)
    {
        if (_options.ShutdownOnError)
        {
            context.RequestShutdown(error);
        }
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

        public Task HandleAsync(T item) => _trace ? HandleTracedAsync(item) : HandleCoreAsync(item);

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
            if (_token.IsCancellationRequested)
            {
                // Rule 5: no item starts once the handler's token is cancelled.
                return Task.CompletedTask;
            }

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
        /// Reports a handled item. The health scope, metrics and logger are the user's code too: if
        /// one of them throws, the failure is logged and the item counts as handled, because an
        /// exception here would fault the action block, which then drops every buffered item and
        /// stops pulling the source.
        /// </summary>
        private void Succeeded(long start)
        {
            try
            {
                ReportSuccess(start);
            }
            catch (Exception ex)
            {
                Log.ObserverReportFailed(_context.Logger, _job.Name, ex);
            }
        }

        /// <summary>Reports a failed item; guarded like <see cref="Succeeded"/>.</summary>
        private void Failed(Exception error, long start)
        {
            try
            {
                ReportFailure(error, start);
            }
            catch (Exception ex)
            {
                Log.ObserverReportFailed(_context.Logger, _job.Name, ex);
            }
        }

        private void ReportSuccess(long start)
        {
            long end = _time.GetTimestamp();
            TimeSpan duration = _time.GetElapsedTime(start, end);
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

        private void ReportFailure(Exception error, long start)
        {
            _context.Metrics.ObserverRunDuration(_job.Name, _time.GetElapsedTime(start));
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
            _context.Metrics.JobError(_job.Name, error);
            _context.Health.Degraded($"Handler failed: {error.Message}", error);
            _job.ShutdownIfAsked(_context, error);
        }
    }
}
