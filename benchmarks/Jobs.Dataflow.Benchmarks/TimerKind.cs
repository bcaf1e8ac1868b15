namespace Jobs.Dataflow.Benchmarks;

/// <summary>The schedule of the idle timers of <see cref="IdleTimers"/>.</summary>
public enum TimerKind
{
    /// <summary>A 1-hour interval (<c>Job.Timer</c>).</summary>
    Interval,

    /// <summary>An hourly cron expression (<c>Job.Cron</c>).</summary>
    Cron,

    /// <summary>Every other timer of each kind.</summary>
    Mixed,
}
