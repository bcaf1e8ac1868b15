namespace Jobs.Dataflow;

/// <summary>
/// The timeout of one run (<see cref="OneShotOptions.AttemptTimeout"/>, <see cref="TimerOptions.RunTimeout"/>):
/// a token cancelled when the timeout expires on the group's clock or when the group stops,
/// whichever comes first (see docs/behaviour.md#rule-43). Made only for runs that have a timeout.
/// </summary>
internal sealed class RunTimeout : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly CancellationTokenRegistration _stop;
    private readonly TimeSpan _timeout;

    /// <summary>Initializes a new instance of the <see cref="RunTimeout"/> class and starts its clock.</summary>
    /// <param name="timeout">How long the run may take.</param>
    /// <param name="time">The group's clock.</param>
    /// <param name="stop">The group's token: the run's token is cancelled with it.</param>
    public RunTimeout(TimeSpan timeout, TimeProvider time, CancellationToken stop)
    {
        _timeout = timeout;
        _source = new CancellationTokenSource(timeout, time);
        _stop = stop.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _source);
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
        if (!_source.IsCancellationRequested || stop.IsCancellationRequested)
        {
            return error;
        }

        return new TimeoutException($"{what} timed out after {Durations.Format(_timeout)}.", error);
    }

    public void Dispose()
    {
        _stop.Dispose();
        _source.Dispose();
    }
}
