using Cronos;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The schedule of <see cref="Job.Cron"/>: a tick at each occurrence of a cron expression in a
/// time zone (see docs/behaviour.md#rule-40). One one-shot timer, armed for the next occurrence
/// after the clock's <see cref="TimeProvider.GetUtcNow"/> and re-armed when it fires.
/// </summary>
/// <remarks>
/// Occurrences that pass while a run is busy, or that a jump of the clock skips, cause one tick:
/// the next occurrence is always computed from now, never from the one just missed. Ticks during
/// a run coalesce into one run after it, as with an interval. Runs, fired or ticked, do not move
/// the occurrences. Daylight saving is the cron library's: an occurrence in a skipped hour comes
/// at the first valid time after it, and a time of day in an hour that repeats comes once.
/// </remarks>
internal sealed class CronSchedule : TimerSchedule
{
    private readonly CronExpression _expression;
    private readonly TimeZoneInfo _zone;

    // Guards the timer and the next occurrence: the timer's callback re-arms it while the job's
    // end disposes it.
    private readonly Lock _gate = new();
    private TimerJob? _job;
    private JobContext? _context;
    private ITimer? _timer;
    private DateTimeOffset? _next;
    private bool _stopped;

    public CronSchedule(CronExpression expression, TimeZoneInfo zone)
    {
        _expression = expression;
        _zone = zone;
    }

    public override void Start(TimerJob job, JobContext context)
    {
        _job = job;
        _context = context;
        TimeProvider time = context.TimeProvider;
        DateTimeOffset now = time.GetUtcNow();
        DateTimeOffset? next;
        lock (_gate)
        {
            next = _next = _expression.GetNextOccurrence(now, _zone);
            if (next is { } occurrence)
            {
                _timer = time.CreateTimer(static state => ((CronSchedule)state!).OnTimer(), this, DelayUntil(occurrence, now), Timeout.InfiniteTimeSpan);
            }
        }

        LogNext(next);
    }

    public override void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            _timer?.Dispose();
        }
    }

    /// <summary>The wait until <paramref name="occurrence"/>, cut to the longest a timer can wait: a timer that wakes early re-arms.</summary>
    private static TimeSpan DelayUntil(DateTimeOffset occurrence, DateTimeOffset now)
    {
        TimeSpan delay = occurrence - now;

        // Stryker disable once Equality,Block : the next occurrence is computed after now, so the delay is never zero or less; zero would round to zero anyway.
        if (delay <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        // Rounded up to whole milliseconds: the system's timers truncate, and a wake-up a fraction
        // of a millisecond early would re-arm for less than one, spinning until the occurrence.
        long ms = (long)Math.Ceiling(delay.TotalMilliseconds);

        // Stryker disable once Equality : at exactly the longest wait, FromMilliseconds(ms) is Timers.MaxDelay itself.
        return ms >= Timers.MaxDelay.TotalMilliseconds ? Timers.MaxDelay : TimeSpan.FromMilliseconds(ms);
    }

    private void OnTimer()
    {
        DateTimeOffset now = _context!.TimeProvider.GetUtcNow();
        bool due = false;
        DateTimeOffset? next;
        lock (_gate)
        {
            if (_stopped || _next is not { } scheduled)
            {
                return;
            }

            if (now >= scheduled)
            {
                // From now, not from the occurrence that fired: the ones in between are misfires,
                // folded into this tick.
                due = true;
                _next = _expression.GetNextOccurrence(now, _zone);
            }

            // Not due: the wait was cut to a timer's longest, or the timer woke early; wait on.
            next = _next;
            if (next is { } occurrence)
            {
                _timer!.Change(DelayUntil(occurrence, now), Timeout.InfiniteTimeSpan);
            }
        }

        if (due)
        {
            _job!.OnTick();
            LogNext(next);
        }
    }

    private void LogNext(DateTimeOffset? next)
    {
        ILogger logger = _context!.Logger;
        if (next is not { } occurrence)
        {
            Log.CronNoNextRun(logger, _job!.Name);
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            // Guarded: the conversion to the zone's local time is wasted when nobody reads it.
            Log.CronNextRun(logger, _job!.Name, TimeZoneInfo.ConvertTime(occurrence, _zone));
        }
    }
}
