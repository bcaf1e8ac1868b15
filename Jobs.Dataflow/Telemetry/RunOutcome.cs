namespace Jobs.Dataflow;

/// <summary>
/// How a run or an item ended: the <c>job.outcome</c> tag of the durations that
/// <see cref="MeterJobMetrics"/> records.
/// </summary>
public enum RunOutcome
{
    /// <summary>The run or item finished without an error (tag value <c>ok</c>).</summary>
    Ok,

    /// <summary>The run or item failed: its function or handler threw (tag value <c>error</c>).</summary>
    Error,

    /// <summary>The run or item was cut off by the group's stop: it threw once its token was cancelled (tag value <c>cancelled</c>).</summary>
    Cancelled,
}
