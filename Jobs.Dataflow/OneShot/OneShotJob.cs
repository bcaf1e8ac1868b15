using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// Runs a function once, retrying it with backoff while retries remain (see
/// docs/behaviour.md#rule-9 to #rule-12), each attempt within its timeout if it has one
/// (#rule-43). Each attempt is a run.
/// </summary>
internal sealed class OneShotJob : Job
{
    private readonly OneShotFunc _fn;
    private readonly OneShotOptions _options;

    public OneShotJob(string name, OneShotFunc fn, OneShotOptions options)
        : base(name)
    {
        _fn = fn;
        _options = options;
    }

    internal override string Kind => JobKinds.OneShot;

    private protected override string HealthScopePrefix => "job-";

    /// <summary>Busy while an attempt runs; waiting on time during a backoff delay, until the delay is over.</summary>
    internal override void DescribeBusy(JobContext context, List<string> busy)
    {
        if (context.Work is not { WaitsOnTime: true })
        {
            busy.Add($"one-shot job {Name}: running an attempt");
        }
    }

    internal override async Task ExecuteAsync(JobContext context)
    {
        CancellationToken token = context.CancellationToken;
        for (int attempt = 1; ; attempt++)
        {
            if (token.IsCancellationRequested)
            {
                // The stop came first: no attempt starts after it, and before the first the job
                // has not run at all (the stop's warning names it).
                context.NeverRan |= attempt == 1;
                return;
            }

            // The retry after attempt N is retry number N, so N - 1 retries are used up.
            bool last = _options.Retries != -1 && attempt > _options.Retries;

            // The attempt is awaited here, not in an async method of its own: for a function that
            // awaits, each async method in the chain costs the job a state machine box (over 100
            // bytes), and a job already has two, this one and the group's. Its start and end are
            // read once, for its duration and for the times health shows.
            long start = context.TimeProvider.GetTimestamp();
            context.OkAsOf("Running", start);
            Exception? error = null;
            using (Activity? activity = JobActivities.StartRun(context, JobKinds.OneShot))
            {
                activity?.SetTag("job.attempt", attempt);
                bool inFlight = context.CountsRunsInFlight;
                if (inFlight)
                {
                    context.Metrics.RunsInFlight(Name, Kind, 1);
                }

                context.Work?.Enter();

                // Only an attempt with a timeout pays for one: a token source and a timer.
                RunTimeout? timeout = _options.AttemptTimeout is { } limit ? new RunTimeout(limit, context.TimeProvider, token, context.Logger, Name) : null;
                bool called = false;
                try
                {
                    // Checked again, on the token the function gets: the stop (or the attempt's
                    // timeout) may have come while the collaborators above ran (a slow health
                    // scope, metrics sink or activity listener). The attempt then ends without
                    // calling the function.
                    CancellationToken attemptToken = timeout?.Token ?? token;
                    attemptToken.ThrowIfCancellationRequested();
                    called = true;
                    await (_fn(context.Health, attemptToken) ?? throw context.NullTaskError()).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    error = ex;
                }

                context.NeverRan |= attempt == 1 && !called && token.IsCancellationRequested;

                context.Work?.Exit();
                if (timeout is not null)
                {
                    error = timeout.Outcome(error, token, "The attempt");
                    timeout.Dispose();
                }

                if (inFlight)
                {
                    context.Metrics.RunsInFlight(Name, Kind, -1);
                }

                long end = context.TimeProvider.GetTimestamp();
                ReportAttempt(context, attempt, error, start, end, activity);
            }

            if (error is null || token.IsCancellationRequested)
            {
                return;
            }

            if (last)
            {
                context.GiveUp(error, GaveUp(attempt, error), _options.ShutdownOnError);
                return;
            }

            if (!await BackoffAsync(context, retry: attempt).ConfigureAwait(false))
            {
                return;
            }

            // Only Retries = -1 gets here; keep the attempt number from overflowing. Backoffs are
            // capped long before this, so the delay does not change.
            // Stryker disable once Block : reached after two billion attempts only.
            if (attempt == int.MaxValue - 1)
            {
                attempt = int.MaxValue / 2;
            }
        }
    }

    private static string GaveUp(int attempts, Exception error) =>
        attempts == 1 ? $"Gave up after 1 attempt: {error.Message}" : $"Gave up after {attempts} attempts: {error.Message}";

    private static Action<ILogger, string, Exception> AttemptLog(int attempt, int retriesLeft) => retriesLeft == -1
        ? (logger, name, error) => Log.OneShotFailedRetryingForever(logger, name, attempt, error)
        : (logger, name, error) => Log.OneShotFailed(logger, name, attempt, retriesLeft, error);

    /// <summary>Reports an attempt that ended: its duration, then <c>Finished</c>, or its failure (unless it ended by the stop).</summary>
    /// <param name="context">The job's context.</param>
    /// <param name="attempt">The attempt's number, from 1.</param>
    /// <param name="error">What it threw; <see langword="null"/> when it succeeded.</param>
    /// <param name="start">Its start, a timestamp of the group's clock.</param>
    /// <param name="end">Its end, a timestamp of the group's clock.</param>
    /// <param name="activity">Its activity, if it is traced.</param>
    private void ReportAttempt(JobContext context, int attempt, Exception? error, long start, long end, Activity? activity)
    {
        TimeSpan duration = Durations.NotNegative(context.TimeProvider.GetElapsedTime(start, end));
        RunOutcome outcome = Outcomes.Of(error, context.CancellationToken);
        context.Metrics.OneShotRunDuration(Name, duration, outcome, error);
        JobActivities.End(activity, outcome);
        if (error is null)
        {
            context.OkWithDuration("Finished", duration, end);
            if (context.Logger.IsEnabled(LogLevel.Information))
            {
                Log.OneShotFinished(context.Logger, Name, attempt, Durations.Format(duration));
            }
        }
        else if (!context.EndedByCancellation(error, context.CancellationToken))
        {
            // Every failed attempt is Degraded, the last one too; giving up then reports Failed.
            int retriesLeft = _options.Retries == -1 ? -1 : _options.Retries - (attempt - 1);
            context.Fail(error, $"Failed on attempt {attempt}: {error.Message}", AttemptLog(attempt, retriesLeft), activity, shutdown: false);
        }
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
            context.GiveUp(ex, $"Gave up: its backoff threw: {ex.Message}", _options.ShutdownOnError);
            return false;
        }

        if (delay <= TimeSpan.Zero)
        {
            // Retry at once, but not on this stack: a function that fails synchronously would
            // otherwise keep this thread pool thread in a loop forever (Retries = -1), and starve
            // every other job of it. The retry waits its turn in the pool's global queue, whatever
            // context the function left on the thread.
            await ThreadPoolYield.Instance;
            return !context.CancellationToken.IsCancellationRequested;
        }

        // "No cap" backoffs (max = TimeSpan.MaxValue) are fine: the wait is cut to the longest a
        // platform timer can wait, so Task.Delay never throws on a background thread.
        // Stryker disable once Equality : a delay of exactly the longest wait is that wait either way.
        if (delay > Timers.MaxDelay)
        {
            delay = Timers.MaxDelay;
        }

        Log.OneShotBackoff(context.Logger, Name, Durations.Format(delay), retry + 1);
        Task wait = Task.Delay(delay, context.TimeProvider, context.CancellationToken);
        try
        {
            await (context.Work?.WaitOnTimeAsync(wait) ?? wait).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            // Stryker disable once Boolean : only the stop cancels the wait, and the attempt loop checks the stop's token before another attempt.
            return false;
        }
    }
}
