namespace Jobs.Dataflow;

/// <summary>
/// When a timer job's ticks come: a fixed interval, an interval that can change
/// (<see cref="TimerInterval"/>), or a cron expression. The job asks for a run with
/// <see cref="TimerJob.OnTick"/>; everything else (the run block, triggers, runs that never
/// overlap, coalescing) is the job's and the same for every schedule.
/// </summary>
/// <remarks>A schedule belongs to one job, which starts it once and stops it once.</remarks>
internal abstract class TimerSchedule
{
    /// <summary>Arms the schedule for a job that starts now; called once, before the job reports <c>Primed</c>.</summary>
    /// <param name="job">The job to tick.</param>
    /// <param name="context">The job's context: its clock and logger.</param>
    public abstract void Start(TimerJob job, JobContext context);

    /// <summary>Tells the schedule that a run starts, ticked or fired; an interval restarts from it.</summary>
    /// <param name="start">The run's start, a timestamp of the group's clock.</param>
    public virtual void OnRunStarting(long start)
    {
    }

    /// <summary>Disarms the schedule for good; called once, when the job ends.</summary>
    public abstract void Stop();
}
