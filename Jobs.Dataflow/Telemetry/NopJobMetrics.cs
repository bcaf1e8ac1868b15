namespace Jobs.Dataflow;

/// <summary>An <see cref="IJobMetrics"/> that records nothing; the default when no metrics are configured.</summary>
public sealed class NopJobMetrics : IJobMetrics
{
    /// <summary>Gets a shared instance.</summary>
    public static NopJobMetrics Instance { get; } = new();

    /// <inheritdoc/>
    public void JobError(string name, Exception error)
    {
    }

    /// <inheritdoc/>
    public void OneShotRunDuration(string name, TimeSpan duration)
    {
    }

    /// <inheritdoc/>
    public void TimerRunDuration(string name, TimeSpan duration)
    {
    }

    /// <inheritdoc/>
    public void TimerTriggerStats(string name, TimeSpan latency, int folds)
    {
    }

    /// <inheritdoc/>
    public void ObserverRunDuration(string name, TimeSpan duration)
    {
    }

    /// <inheritdoc/>
    public void OneShotRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error)
    {
    }

    /// <inheritdoc/>
    public void TimerRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error)
    {
    }

    /// <inheritdoc/>
    public void ObserverRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error)
    {
    }

    /// <inheritdoc/>
    public void RunsInFlight(string name, string kind, int delta)
    {
    }
}
