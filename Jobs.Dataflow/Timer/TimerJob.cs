using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// Runs a function every interval and whenever its trigger fires. A timer and the trigger's
/// broadcast block wake a run block (<see cref="TimerRunBlock"/>: one run at a time and room for
/// one pending run, like an <see cref="ActionBlock{T}"/> with one worker and a bound of 2), so runs
/// never overlap and wake-ups during a run coalesce into one run.
/// </summary>
internal sealed class TimerJob : Job
{
    private readonly TimerFunc _fn;
    private readonly TimeSpan _interval;
    private readonly TimerOptions _options;

    public TimerJob(string name, TimerFunc fn, TimeSpan interval, TimerOptions options)
        : base(name)
    {
        _fn = fn;
        _interval = interval;
        _options = options;
        HealthScopeName = "timer-job-" + Name;
    }

    internal override string HealthScopeName { get; }

    internal override string Kind => JobKinds.Timer;

    internal override Task RunAsync(JobContext context) => new Run(this, context).RunAsync();

    /// <summary>The state of the job in one group: a job may run in several groups at once.</summary>
    private sealed class Run
    {
        private readonly TimerJob _job;
        private readonly JobContext _context;
        private readonly TimerRunBlock _block;
        private ITimer? _timer;
        private Trigger.Subscription? _subscription;
        private int _tickDue;

        public Run(TimerJob job, JobContext context)
        {
            _job = job;
            _context = context;
            _block = new TimerRunBlock(RunOnceAsync);
        }

        public async Task RunAsync()
        {
            // The group completes the block when it stops; the job ends once the block has
            // finished its current run and dropped the pending one.
            _context.Own(_block);
            try
            {
                if (_job._interval > TimeSpan.Zero)
                {
                    // Armed at creation: a test that waits for the timer may advance the clock at once.
                    Volatile.Write(ref _timer, _context.TimeProvider.CreateTimer(
                        static state => ((Run)state!).OnTick(), this, _job._interval, _job._interval));
                }

                _context.Health.Ok("Primed");
                if (_job._options.Trigger is { } trigger)
                {
                    // Published before the link: the link may wake a run at once, and that run
                    // must find the fires made before start.
                    Trigger.Subscription subscription = trigger.Subscribe(_block);
                    Volatile.Write(ref _subscription, subscription);
                    subscription.Connect();
                }

                await _block.Completion.ConfigureAwait(false);
            }
            finally
            {
                _subscription?.Dispose();
                _timer?.Dispose();
            }
        }

        private void OnTick()
        {
            // The flag, not the message, says a tick is due: a tick during a run is folded into
            // the pending run, which reads the flag when it starts.
            Volatile.Write(ref _tickDue, 1);
            _block.Post(TimerWake.Tick);
        }

        private async Task RunOnceAsync()
        {
            JobContext context = _context;
            CancellationToken token = context.CancellationToken;
            try
            {
                if (token.IsCancellationRequested)
                {
                    // Rule 5: a run still pending at stop is dropped, never started.
                    Log.TimerRunDropped(context.Logger, _job.Name);
                    return;
                }

                bool ticked = Interlocked.Exchange(ref _tickDue, 0) != 0;
                int folds = 0;
                TimeSpan latency = TimeSpan.Zero;
                long? start = null;
                if (Volatile.Read(ref _subscription) is { } subscription)
                {
                    folds = subscription.Take(out latency, out TimeSpan held, out long takenAt);
                    if (ReferenceEquals(subscription.TimeProvider, context.TimeProvider))
                    {
                        // One clock serves both (TimeProvider.System by default): the take's reading
                        // is the run's start too, which saves a clock read on every triggered run.
                        start = takenAt;
                    }

                    if (held > TimeSpan.Zero)
                    {
                        Log.TimerFiresHeld(context.Logger, _job.Name, Durations.Format(held));
                    }
                }

                if (!ticked && folds == 0)
                {
                    // A wake-up whose fires an earlier run already folded, or that the debounce window holds.
                    return;
                }

                // Every run restarts the interval, whether a tick or a fire caused it.
                Volatile.Read(ref _timer)?.Change(_job._interval, _job._interval);
                if (folds > 0)
                {
                    context.Metrics.TimerTriggerStats(_job.Name, latency, folds);
                    if (context.Logger.IsEnabled(LogLevel.Debug))
                    {
                        // Guarded: formatting the latency costs two strings per triggered run.
                        Log.TimerTriggered(context.Logger, _job.Name, folds, Durations.Format(latency));
                    }
                }

                await RunFunctionAsync(token, start ?? context.TimeProvider.GetTimestamp()).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The context guards the user's collaborators, so only a bug of the library gets
                // here. Never let it fault the block: a faulted block would end the job and drop
                // its pending run.
                Log.TimerRunCrashed(context.Logger, _job.Name, ex);
            }
        }

        /// <summary>Runs the function once; <paramref name="start"/> is the run's start on the group's clock.</summary>
        private async Task RunFunctionAsync(CancellationToken token, long start)
        {
            JobContext context = _context;
            TimeProvider time = context.TimeProvider;
            using Activity? activity = JobActivities.StartRun(context, JobKinds.Timer);
            Exception? error = null;
            try
            {
                Task task = _job._fn(token) ?? throw new InvalidOperationException($"The function of timer job {_job.Name} returned a null Task.");
                await task.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                error = ex;
            }

            TimeSpan duration = Durations.NotNegative(time.GetElapsedTime(start));
            context.Metrics.TimerRunDuration(_job.Name, duration);
            if (error is null)
            {
                context.Health.Ok(Durations.Format("OK (", duration, ")"));
                if (context.Logger.IsEnabled(LogLevel.Debug))
                {
                    Log.TimerRan(context.Logger, _job.Name, Durations.Format(duration));
                }

                return;
            }

            if (token.IsCancellationRequested)
            {
                // Rule 6: whatever a run throws once the job is cancelled is a normal end.
                Log.JobCancelled(context.Logger, _job.Name, error is OperationCanceledException ? null : error);
                return;
            }

            JobActivities.Fail(activity, error);
            Log.TimerFailed(context.Logger, _job.Name, error);
            context.ReportFailure(error, $"Run failed: {error.Message}", final: false, _job._options.ShutdownOnError);
        }
    }
}
