namespace Jobs.Dataflow;

/// <summary>Receives the measurements of a group's jobs. Implementations must be thread-safe.</summary>
public interface IJobMetrics
{
    /// <summary>Counts an error of a job's function or handler.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="error">The exception it threw.</param>
    void JobError(string name, Exception error);

    /// <summary>Records the duration of one attempt of a one-shot job.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="duration">How long the attempt ran.</param>
    void OneShotRunDuration(string name, TimeSpan duration);

    /// <summary>Records the duration of one run of a timer job.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="duration">How long the run took.</param>
    void TimerRunDuration(string name, TimeSpan duration);

    /// <summary>Records how a run of a timer job that a trigger caused was folded.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="latency">The time from the first fire folded into the run to the run's start.</param>
    /// <param name="folds">The number of fires folded into the run (at least 1).</param>
    void TimerTriggerStats(string name, TimeSpan latency, int folds);

    /// <summary>Records how long an observer job's handler took for one item.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="duration">How long the handler ran.</param>
    void ObserverRunDuration(string name, TimeSpan duration);
}
