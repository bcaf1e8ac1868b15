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

    /// <summary>Records how long a pipeline stage took for one item (for a batch stage's consumer, one batch).</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="stage">The sanitized stage name.</param>
    /// <param name="duration">How long the stage's function ran, retries included.</param>
    /// <remarks>The default implementation does nothing, so implementations written before pipelines keep compiling.</remarks>
    void PipelineStageDuration(string name, string stage, TimeSpan duration)
    {
    }

    /// <summary>Counts items that left a pipeline stage for the next one (for the sink, items it handled).</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="stage">The sanitized stage name.</param>
    /// <param name="count">How many items left since the last call; the job reports in chunks, not per item.</param>
    /// <remarks>The default implementation does nothing.</remarks>
    void PipelineStageItems(string name, string stage, long count)
    {
    }

    /// <summary>Counts an item that failed for good in a pipeline stage (after its retries).</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="stage">The sanitized stage name.</param>
    /// <remarks>The default implementation does nothing. <see cref="JobError"/> counts the same failure with its exception.</remarks>
    void PipelineStageFailed(string name, string stage)
    {
    }

    /// <summary>Starts observing how many items wait in front of a pipeline stage.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="stage">The sanitized stage name.</param>
    /// <param name="queueLength">Reads the number of items waiting; cheap, and safe to call from any thread.</param>
    /// <returns>A handle that stops the observation when the job ends, or <see langword="null"/>.</returns>
    /// <remarks>The default implementation observes nothing and returns <see langword="null"/>.</remarks>
    IDisposable? ObservePipelineStageQueue(string name, string stage, Func<long> queueLength) => null;

    /// <summary>Records the duration of one attempt of a one-shot job, and how it ended.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="duration">How long the attempt ran.</param>
    /// <param name="outcome">How the attempt ended.</param>
    /// <param name="error">What the attempt threw, when it did not end <see cref="RunOutcome.Ok"/>.</param>
    /// <remarks>The library calls this overload. The default implementation calls <see cref="OneShotRunDuration(string, TimeSpan)"/>, so implementations written before outcomes keep working.</remarks>
    void OneShotRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) => OneShotRunDuration(name, duration);

    /// <summary>Records the duration of one run of a timer job, and how it ended.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="duration">How long the run took.</param>
    /// <param name="outcome">How the run ended.</param>
    /// <param name="error">What the run threw, when it did not end <see cref="RunOutcome.Ok"/>.</param>
    /// <remarks>The library calls this overload. The default implementation calls <see cref="TimerRunDuration(string, TimeSpan)"/>.</remarks>
    void TimerRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) => TimerRunDuration(name, duration);

    /// <summary>Records how long an observer job's handler took for one item, and how it ended.</summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="duration">How long the handler ran.</param>
    /// <param name="outcome">How the handler ended.</param>
    /// <param name="error">What the handler threw, when it did not end <see cref="RunOutcome.Ok"/>.</param>
    /// <remarks>The library calls this overload. The default implementation calls <see cref="ObserverRunDuration(string, TimeSpan)"/>.</remarks>
    void ObserverRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) => ObserverRunDuration(name, duration);

    /// <summary>
    /// Changes the number of runs in flight: <c>+1</c> when a one-shot attempt or a timer run
    /// begins, <c>-1</c> when it ends, however it ends.
    /// </summary>
    /// <param name="name">The sanitized job name.</param>
    /// <param name="kind">The job's kind: <c>oneshot</c> or <c>timer</c>.</param>
    /// <param name="delta"><c>1</c> or <c>-1</c>.</param>
    /// <remarks>The default implementation does nothing.</remarks>
    void RunsInFlight(string name, string kind, int delta)
    {
    }
}
