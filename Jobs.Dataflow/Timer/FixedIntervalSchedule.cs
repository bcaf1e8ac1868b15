namespace Jobs.Dataflow;

/// <summary>
/// The schedule of <see cref="Job.Timer(string, TimerFunc, TimeSpan, TimerOptions?)"/>: a tick
/// every interval, counted from the start of the previous run (see docs/behaviour.md#rule-13).
/// One periodic timer that each run restarts; none for a zero interval (fires only).
/// </summary>
internal sealed class FixedIntervalSchedule : TimerSchedule
{
    private readonly TimeSpan _interval;
    private ITimer? _timer;

    public FixedIntervalSchedule(TimeSpan interval)
    {
        _interval = interval;
    }

    public override void Start(TimerJob job, JobContext context)
    {
        if (_interval > TimeSpan.Zero)
        {
            // Armed at creation: a test that waits for the timer may advance the clock at once.
            Volatile.Write(ref _timer, context.TimeProvider.CreateTimer(
                static state => ((TimerJob)state!).OnTick(), job, _interval, _interval));
        }
    }

    /// <inheritdoc/>
    /// <remarks>Every run restarts the interval, whether a tick or a fire caused it.</remarks>
    public override void OnRunStarting(long start) => Volatile.Read(ref _timer)?.Change(_interval, _interval);

    public override void Stop() => Volatile.Read(ref _timer)?.Dispose();
}
