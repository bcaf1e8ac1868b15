using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>Runs a function once, retrying it with backoff while retries remain.</summary>
internal sealed class OneShotJob : Job
{
    private readonly OneShotFunc _fn;
    private readonly OneShotOptions _options;

    public OneShotJob(string name, OneShotFunc fn, OneShotOptions options)
        : base(name)
    {
        _fn = fn;
        _options = options;
        HealthScopeName = "job-" + Name;
    }

    internal override string HealthScopeName { get; }

    internal override string Kind => JobKinds.OneShot;

    internal override async Task RunAsync(JobContext context)
    {
        CancellationToken token = context.CancellationToken;
        for (int attempt = 1; !token.IsCancellationRequested; attempt++)
        {
            Exception? error = await RunAttemptAsync(context, attempt).ConfigureAwait(false);
            if (error is null)
            {
                return;
            }

            if (token.IsCancellationRequested)
            {
                // Rule 6: whatever a run throws once the job is cancelled is a normal end. The
                // cancellation itself is expected, so only another exception is worth its stack.
                Log.JobCancelled(context.Logger, Name, error is OperationCanceledException ? null : error);
                return;
            }

            // The retry after attempt N is retry number N, so N - 1 retries are used up.
            int retry = attempt;
            bool canRetry = _options.Retries == -1 || retry <= _options.Retries;
            if (_options.Retries == -1)
            {
                Log.OneShotFailedRetryingForever(context.Logger, Name, attempt, error);
            }
            else
            {
                Log.OneShotFailed(context.Logger, Name, attempt, _options.Retries - (attempt - 1), error);
            }

            // Every failed attempt is Degraded; the last one is then Failed (rules 10 and 12).
            string reason = $"Failed on attempt {attempt}: {error.Message}";
            context.ReportFailure(error, reason, final: false, shutdown: false);
            if (!canRetry)
            {
                context.Health.Failed(GaveUp(attempt, error), error);
                if (_options.ShutdownOnError)
                {
                    context.RequestShutdown(error);
                }

                return;
            }

            if (!await BackoffAsync(context, retry).ConfigureAwait(false))
            {
                return;
            }

            // Only Retries = -1 gets here; keep the attempt number from overflowing. Backoffs are
            // capped long before this, so the delay does not change.
            if (attempt == int.MaxValue - 1)
            {
                attempt = int.MaxValue / 2;
            }
        }
    }

    private static string GaveUp(int attempts, Exception error) =>
        attempts == 1 ? $"Gave up after 1 attempt: {error.Message}" : $"Gave up after {attempts} attempts: {error.Message}";

    /// <summary>Runs one attempt, traced and timed; returns its error, or null when it succeeded.</summary>
    private async Task<Exception?> RunAttemptAsync(JobContext context, int attempt)
    {
        context.Health.Ok("Running");
        using Activity? activity = JobActivities.StartRun(context, JobKinds.OneShot);
        activity?.SetTag("job.attempt", attempt);
        long start = context.TimeProvider.GetTimestamp();
        Exception? error = null;
        try
        {
            Task task = _fn(context.Health, context.CancellationToken)
                ?? throw new InvalidOperationException($"The function of job {Name} returned a null Task.");
            await task.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            error = ex;
        }

        TimeSpan duration = Durations.NotNegative(context.TimeProvider.GetElapsedTime(start));
        context.Metrics.OneShotRunDuration(Name, duration);
        if (error is null)
        {
            context.Health.Ok(Durations.Format("Finished (", duration, ")"));
            if (context.Logger.IsEnabled(LogLevel.Information))
            {
                Log.OneShotFinished(context.Logger, Name, attempt, Durations.Format(duration));
            }
        }
        else if (!context.CancellationToken.IsCancellationRequested)
        {
            JobActivities.Fail(activity, error);
        }

        return error;
    }

    /// <summary>Waits the backoff delay before retry <paramref name="retry"/>; false when stop interrupted it or the backoff failed.</summary>
    private async Task<bool> BackoffAsync(JobContext context, int retry)
    {
        TimeSpan delay;
        try
        {
            delay = _options.Backoff?.GetDelay(retry) ?? TimeSpan.Zero;
        }
        catch (Exception ex)
        {
            // A backoff that throws cannot say when to retry; retrying at once could spin, so the
            // job gives up as if its retries were used up. The attempt's failure is counted
            // already; the job now ends with the backoff's error.
            Log.OneShotBackoffFailed(context.Logger, Name, ex);
            context.Health.Failed($"Gave up: its backoff threw: {ex.Message}", ex);
            if (_options.ShutdownOnError)
            {
                context.RequestShutdown(ex);
            }

            return false;
        }

        if (delay <= TimeSpan.Zero)
        {
            // Retry at once, but not on this stack: a function that fails synchronously would
            // otherwise keep this thread pool thread in a loop forever (Retries = -1), and starve
            // every other job of it. ForceYielding without the captured context queues the retry
            // on the thread pool, whatever context the function left on the thread.
            await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            return !context.CancellationToken.IsCancellationRequested;
        }

        // "No cap" backoffs (max = TimeSpan.MaxValue) are fine: the wait is cut to the longest a
        // platform timer can wait, so Task.Delay never throws on a background thread.
        if (delay > Timers.MaxDelay)
        {
            delay = Timers.MaxDelay;
        }

        Log.OneShotBackoff(context.Logger, Name, Durations.Format(delay), retry + 1);
        try
        {
            await Task.Delay(delay, context.TimeProvider, context.CancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
