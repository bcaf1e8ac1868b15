using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// Runs a function on a schedule and whenever its trigger fires (see docs/behaviour.md#rule-13 to
/// #rule-22, and #rule-40 to #rule-44). The schedule (<see cref="TimerSchedule"/>: a fixed
/// interval, a <see cref="TimerInterval"/>, or a cron expression) and the trigger's broadcast block
/// wake a run block (<see cref="TimerRunBlock"/>: one run at a time and room for one pending run,
/// like an <see cref="ActionBlock{T}"/> with one worker and a bound of 2), so runs never overlap
/// and wake-ups during a run coalesce into one run, whatever the schedule.
/// </summary>
/// <remarks>
/// The path of one <see cref="Trigger.Fire"/>: the trigger counts the fire for each of its
/// subscriptions and posts a wake-up to its broadcast block; the block offers it to this job's run
/// block, which calls <see cref="OnWakeAsync"/>; that takes the tick flag and the subscription's
/// fires (<see cref="Trigger.Subscription.Take"/>) and, when either is due, calls <see cref="RunAsync"/>.
/// </remarks>
internal sealed class TimerJob : Job
{
    private readonly TimerFunc _fn;
    private readonly TimerSchedule _schedule;
    private readonly TimerOptions _options;
    private TimerRunBlock? _block;
    private JobContext? _context;
    private Trigger.Subscription? _subscription;
    private int _tickDue;

    public TimerJob(string name, TimerFunc fn, TimerSchedule schedule, TimerOptions options)
        : base(name)
    {
        _fn = fn;
        _schedule = schedule;
        _options = options;
    }

    internal override string Kind => JobKinds.Timer;

    private protected override string HealthScopePrefix => "timer-job-";

    internal override async Task ExecuteAsync(JobContext context)
    {
        _context = context;
        var block = new TimerRunBlock(OnWakeAsync);
        _block = block;

        // The group completes the block when it stops; the job ends once the block has finished
        // its current run and dropped the pending one.
        context.Own(block);
        try
        {
            _schedule.Start(this, context);
            context.Health.Ok("Primed");
            if (_options.RunAtStart)
            {
                // A tick like any other, due before the trigger connects: the run that a fire kept
                // from before start wakes finds it too, and the two fold into one run.
                Volatile.Write(ref _tickDue, 1);
            }

            if (_options.Trigger is { } trigger)
            {
                // Published before the link: the link may wake a run at once, and that run must
                // find the fires made before start.
                Trigger.Subscription subscription = trigger.Subscribe(block);
                Volatile.Write(ref _subscription, subscription);
                subscription.Connect();
            }

            if (_options.RunAtStart)
            {
                block.Post(TimerWake.Tick);
            }

            context.Settle();
            await block.Completion.ConfigureAwait(false);
        }
        finally
        {
            _subscription?.Dispose();
            _schedule.Stop();
        }
    }

    /// <summary>Busy while starting, while a run is in flight or pending, and while a tick or a fire not held by the debounce waits for its run.</summary>
    internal override void DescribeBusy(JobContext context, List<string> busy)
    {
        if (!context.Settled)
        {
            busy.Add($"timer job {Name}: starting");
        }
        else if (Volatile.Read(ref _block) is { IsBusy: true })
        {
            busy.Add($"timer job {Name}: a run is in flight or pending");
        }
        else if (Volatile.Read(ref _tickDue) != 0)
        {
            busy.Add($"timer job {Name}: a tick waits for its run");
        }
        else if (Volatile.Read(ref _subscription) is { } subscription)
        {
            if (subscription.HasDueFires)
            {
                busy.Add($"timer job {Name}: trigger fires wait for a run");
            }
            else if (subscription.IsHolding && !ReferenceEquals(subscription.TimeProvider, context.TimeProvider))
            {
                // Held on a clock a test kit does not move: the window ends by itself, later.
                busy.Add($"timer job {Name}: trigger fires wait for a debounce window on another clock than the group's");
            }
        }
    }

    /// <summary>Asks for a run: what the schedule calls when a run is due.</summary>
    internal void OnTick()
    {
        // The flag, not the message, says a tick is due: a tick during a run is folded into the
        // pending run, which reads the flag when it starts.
        Volatile.Write(ref _tickDue, 1);
        _block!.Post(TimerWake.Tick);
    }

    /// <summary>The run block's delegate: decides whether a run is due, and runs it.</summary>
    private async Task OnWakeAsync()
    {
        JobContext context = _context!;
        CancellationToken token = context.CancellationToken;
        try
        {
            if (token.IsCancellationRequested)
            {
                // A run still pending at stop is dropped, never started (docs/behaviour.md#rule-5).
                Log.TimerRunDropped(context.Logger, Name);
                return;
            }

            bool ticked = Interlocked.Exchange(ref _tickDue, 0) != 0;
            int folds = 0;
            TimeSpan latency = TimeSpan.Zero;
            long? start = null;
            List<ActivityLink>? links = null;
            if (Volatile.Read(ref _subscription) is { } subscription)
            {
                folds = subscription.Take(out latency, out TimeSpan held, out long takenAt, out links);
                if (ReferenceEquals(subscription.TimeProvider, context.TimeProvider))
                {
                    // One clock serves both (TimeProvider.System by default): the take's reading is
                    // the run's start too, which saves a clock read on every triggered run.
                    start = takenAt;
                }

                if (held > TimeSpan.Zero)
                {
                    Log.TimerFiresHeld(context.Logger, Name, Durations.Format(held));
                }
            }

            if (!ticked && folds == 0)
            {
                // A wake-up whose fires an earlier run already folded, or that the debounce window holds.
                return;
            }

            // Every run restarts an interval, whether a tick or a fire caused it; a cron schedule
            // keeps its occurrences.
            // Stryker disable once NullCoalescing : one clock: the take's reading and a fresh one differ only by time passing between two statements, which no test clock does.
            long runStart = start ?? context.TimeProvider.GetTimestamp();
            _schedule.OnRunStarting(runStart);
            if (folds > 0)
            {
                context.Metrics.TimerTriggerStats(Name, latency, folds);
                if (context.Logger.IsEnabled(LogLevel.Debug))
                {
                    // Guarded: formatting the latency costs two strings per triggered run.
                    Log.TimerTriggered(context.Logger, Name, folds, Durations.Format(latency));
                }
            }

            await RunAsync(context, runStart, links).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The context guards the user's collaborators, so only a bug of the library gets here.
            // Never let it fault the block: a faulted block would end the job and drop its pending run.
            Log.TimerRunCrashed(context.Logger, Name, ex);
        }
    }

    /// <summary>
    /// Runs the function once; <paramref name="start"/> is the run's start on the group's clock, and
    /// the run's activity links to the activities that fired the trigger for it (<paramref name="links"/>).
    /// </summary>
    private async Task RunAsync(JobContext context, long start, List<ActivityLink>? links)
    {
        CancellationToken token = context.CancellationToken;
        using Activity? activity = JobActivities.StartRun(context, JobKinds.Timer, links);
        bool inFlight = context.CountsRunsInFlight;
        if (inFlight)
        {
            context.Metrics.RunsInFlight(Name, Kind, 1);
        }

        // Only a run with a timeout pays for one: a token source and a timer.
        RunTimeout? timeout = _options.RunTimeout is { } limit ? new RunTimeout(limit, context.TimeProvider, token, context.Logger, Name) : null;

        // Stryker disable once Statement : a timer is busy for a test kit while its run block is, for the whole run; this counter only moves the kit's stamp, inside that busy span.
        context.Work?.Enter();
        (Exception? error, long end, TimeSpan duration) = await context.RunTimedAsync(
            static (context, token) => ((TimerJob)context.Job)._fn(token), start, timeout?.Token ?? token).ConfigureAwait(false);

        // Stryker disable once Statement : as Enter above: the run block stays busy until after the run, so the kit never reads this counter for a timer.
        context.Work?.Exit();
        if (timeout is not null)
        {
            error = timeout.Outcome(error, token, "The run");
            timeout.Dispose();
        }

        if (inFlight)
        {
            context.Metrics.RunsInFlight(Name, Kind, -1);
        }

        RunOutcome outcome = Outcomes.Of(error, token);
        context.Metrics.TimerRunDuration(Name, duration, outcome, error);
        JobActivities.End(activity, outcome);
        if (error is null)
        {
            context.OkWithDuration("OK", duration, end);
            if (context.Logger.IsEnabled(LogLevel.Debug))
            {
                Log.TimerRan(context.Logger, Name, Durations.Format(duration));
            }
        }
        else if (!context.EndedByCancellation(error, token))
        {
            context.Fail(error, $"Run failed: {error.Message}", Log.TimerFailed, activity, _options.ShutdownOnError);
        }
    }
}
