namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// A record the input got wrong: a malformed field, an unknown currency, a line too long to read.
/// It is expected input, not a bug of the program, so it carries no stack trace: the pipeline's
/// one log line per rejected record stays one line.
/// </summary>
internal sealed class RejectedRecordException(long line, string reason) : Exception($"Rejected line {line}: {reason}")
{
    /// <summary>Gets the number of the rejected line.</summary>
    public long Line { get; } = line;

    /// <summary>Gets why the record was rejected.</summary>
    public string Reason { get; } = reason;

    public override string? StackTrace => null;
}
