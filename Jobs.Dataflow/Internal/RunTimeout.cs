using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The timeout of one run (<see cref="OneShotOptions.AttemptTimeout"/>, <see cref="TimerOptions.RunTimeout"/>):
/// a token cancelled when the timeout expires on the group's clock or when the group stops,
/// whichever comes first (see docs/behaviour.md#rule-43). Made only for runs that have a timeout.
/// </summary>
internal sealed class RunTimeout : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly CancellationTokenRegistration _stop;
    private readonly ITimer _timer;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly string _jobName;
    private readonly CancellationToken _groupToken;
    private bool _expired;

    /// <summary>Initializes a new instance of the <see cref="RunTimeout"/> class and starts its clock.</summary>
    /// <param name="timeout">How long the run may take.</param>
    /// <param name="time">The group's clock.</param>
    /// <param name="stop">The group's token: the run's token is cancelled with it.</param>
    /// <param name="logger">Where a callback on the run's token that throws is logged.</param>
    /// <param name="jobName">The job's name, for that log entry.</param>
    public RunTimeout(TimeSpan timeout, TimeProvider time, CancellationToken stop, ILogger logger, string jobName)
    {
        _timeout = timeout;
        _logger = logger;
        _jobName = jobName;
        _groupToken = stop;

        // A timer of its own rather than CancelAfter: a callback that a user registered on the run's
        // token and that throws must be logged here, not thrown into the clock's timer (which would
        // crash the process on the system clock, and stop a fake clock's timers).
        _timer = time.CreateTimer(static state => ((RunTimeout)state!).Expire(), this, timeout, Timeout.InfiniteTimeSpan);
        _stop = stop.UnsafeRegister(static state => ((RunTimeout)state!).Cancel(), this);
    }

    /// <summary>Gets the token to give the run.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>
    /// Tells how a run that has ended counts, given what it threw: a <see cref="TimeoutException"/>
    /// (with what the run threw inside) when the timeout expired, whatever the run did after its
    /// token was cancelled; otherwise what it threw. A stop wins: once the group's token is
    /// cancelled the run ended by cancellation, not by the timeout.
    /// </summary>
    /// <param name="error">What the run threw; <see langword="null"/> when it returned.</param>
    /// <param name="stop">The group's token.</param>
    /// <param name="what">What timed out, for the message: "Run of job NAME", "Attempt 2 of job NAME".</param>
    /// <returns>The run's error, if any.</returns>
    public Exception? Outcome(Exception? error, CancellationToken stop, string what)
    {
        if (!Volatile.Read(ref _expired) || stop.IsCancellationRequested)
        {
            return error;
        }

        return new TimeoutException($"{what} timed out after {Durations.Format(_timeout)}.", error);
    }

    public void Dispose()
    {
        _timer.Dispose();
        _stop.Dispose();

        // Stryker disable once Statement : a source without a timer or linked tokens frees nothing on Dispose but a wait handle a run asked for (finalized anyway), and nothing cancels it once the two above are gone.
        _source.Dispose();
    }

    /// <summary>
    /// The timeout expired: says so in the log at once (a function that ignores its token would
    /// otherwise hold its timer without a word until it returns), then cancels the run's token.
    /// </summary>
    private void Expire()
    {
        if (_groupToken.IsCancellationRequested)
        {
            return;
        }

        Volatile.Write(ref _expired, true);
        Log.RunTimedOut(_logger, _jobName, Durations.Format(_timeout));
        Cancel();
    }

    private void Cancel()
    {
        try
        {
            _source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended and disposed its timeout as the timer fired: nothing left to cancel.
        }
        catch (AggregateException ex)
        {
            Log.RunTimeoutCallbackFailed(_logger, _jobName, ex);
        }
    }
}
