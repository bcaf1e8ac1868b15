namespace Jobs.Dataflow;

/// <summary>How runs end (<see cref="RunOutcome"/>), and the value of their <c>job.outcome</c> tag.</summary>
internal static class Outcomes
{
    /// <summary>
    /// Tells how a run ended: <see cref="RunOutcome.Ok"/> without an error,
    /// <see cref="RunOutcome.Cancelled"/> when it threw once <paramref name="token"/> was cancelled
    /// (the stop cut it off), <see cref="RunOutcome.Error"/> otherwise.
    /// </summary>
    public static RunOutcome Of(Exception? error, CancellationToken token) =>
        error is null ? RunOutcome.Ok : token.IsCancellationRequested ? RunOutcome.Cancelled : RunOutcome.Error;

    /// <summary>Gets the value of the <c>job.outcome</c> tag: <c>ok</c>, <c>error</c> or <c>cancelled</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="outcome"/> is not a defined value.</exception>
    public static string Tag(RunOutcome outcome) => outcome switch
    {
        RunOutcome.Ok => "ok",
        RunOutcome.Error => "error",
        RunOutcome.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Not a run outcome."),
    };
}
