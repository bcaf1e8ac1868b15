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
/// the next occurrence is always computed from now, never from the one just missed. A wall clock
/// set back is seen when the timer wakes (at the latest at the occurrence it was armed for, as a
/// timer waits on a steady clock), and the wait starts again from the new time. Ticks during
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

    /// <summary>
    /// The wait until <paramref name="occurrence"/>, rounded up to whole milliseconds and cut to the
    /// longest a timer can wait: a timer that wakes early re-arms.
    /// </summary>
    private static TimeSpan DelayUntil(DateTimeOffset occurrence, DateTimeOffset now) => Timers.RoundUpToMilliseconds(occurrence - now);

    private void OnTimer()
    {
        DateTimeOffset now = _context!.TimeProvider.GetUtcNow();
        bool due;
        DateTimeOffset? next;
        bool moved;
        lock (_gate)
        {
            if (_stopped || _next is not { } scheduled)
            {
                return;
            }

            // Due: from now, not from the occurrence that fired, so the ones in between are
            // misfires folded into this tick. Not due: the wait was cut to a timer's longest, the
            // timer woke early, or the wall clock was set back; from now as well, so a clock set
            // back waits for the first occurrence after the new time, not for the one armed before
            // (never a later one: the armed occurrence is still after now).
            due = now >= scheduled;
            next = _next = _expression.GetNextOccurrence(now, _zone);
            moved = !due && next != scheduled;
            if (next is { } occurrence)
            {
                _timer!.Change(DelayUntil(occurrence, now), Timeout.InfiniteTimeSpan);
            }
        }

        if (due)
        {
            _job!.OnTick();
        }

        if (due || moved)
        {
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
