namespace Jobs.Dataflow;

/// <summary>
/// A job's view of the group's <see cref="IJobMetrics"/>: a sink that throws (a user's
/// implementation, or a <c>MeterListener</c> callback behind <see cref="MeterJobMetrics"/>) is
/// logged (see <see cref="JobContext.MetricsFailed"/>) and the job goes on.
/// </summary>
internal sealed class GuardedJobMetrics : IJobMetrics
{
    private readonly IJobMetrics _inner;
    private readonly JobContext _context;

    public GuardedJobMetrics(IJobMetrics inner, JobContext context)
    {
        _inner = inner;
        _context = context;
    }

    /// <summary>Gets the user's sink behind the guard.</summary>
    public IJobMetrics Inner => _inner;

    public void JobError(string name, Exception error)
    {
        try
        {
            _inner.JobError(name, error);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void OneShotRunDuration(string name, TimeSpan duration)
    {
        try
        {
            _inner.OneShotRunDuration(name, duration);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void TimerRunDuration(string name, TimeSpan duration)
    {
        try
        {
            _inner.TimerRunDuration(name, duration);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void TimerTriggerStats(string name, TimeSpan latency, int folds)
    {
        try
        {
            _inner.TimerTriggerStats(name, latency, folds);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void ObserverRunDuration(string name, TimeSpan duration)
    {
        try
        {
            _inner.ObserverRunDuration(name, duration);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void PipelineStageDuration(string name, string stage, TimeSpan duration)
    {
        try
        {
            _inner.PipelineStageDuration(name, stage, duration);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void PipelineStageItems(string name, string stage, long count)
    {
        try
        {
            _inner.PipelineStageItems(name, stage, count);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void PipelineStageFailed(string name, string stage)
    {
        try
        {
            _inner.PipelineStageFailed(name, stage);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public IDisposable? ObservePipelineStageQueue(string name, string stage, Func<long> queueLength)
    {
        try
        {
            IDisposable? observation = _inner.ObservePipelineStageQueue(name, stage, queueLength);
            return observation is null ? null : new GuardedObservation(observation, _context);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
            return null;
        }
    }

    public void OneShotRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error)
    {
        try
        {
            _inner.OneShotRunDuration(name, duration, outcome, error);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void TimerRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error)
    {
        try
        {
            _inner.TimerRunDuration(name, duration, outcome, error);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void ObserverRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error)
    {
        try
        {
            _inner.ObserverRunDuration(name, duration, outcome, error);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    public void RunsInFlight(string name, string kind, int delta)
    {
        try
        {
            _inner.RunsInFlight(name, kind, delta);
        }
        catch (Exception ex)
        {
            _context.MetricsFailed(ex);
        }
    }

    /// <summary>The sink's observation of a queue, whose end is guarded too: a stage closes it as the job ends.</summary>
    private sealed class GuardedObservation(IDisposable inner, JobContext context) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                inner.Dispose();
            }
            catch (Exception ex)
            {
                context.MetricsFailed(ex);
            }
        }
    }
}
