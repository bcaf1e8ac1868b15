using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>Options of one job group.</summary>
public sealed class JobGroupOptions
{
    /// <summary>Gets the logger of the group's jobs.</summary>
    /// <value>The default is a logger from the registry's logger factory, category <c>Jobs.Dataflow</c>.</value>
    public ILogger? Logger { get; init; }

    /// <summary>Gets the metrics of the group's jobs.</summary>
    /// <value>The default is the registry's metrics.</value>
    public IJobMetrics? Metrics { get; init; }

    /// <summary>Gets labels that are added as a logging scope to every log entry of the group's jobs and as tags to their metrics.</summary>
    /// <value>The default is no labels.</value>
    public IReadOnlyDictionary<string, object?>? Labels { get; init; }
}
