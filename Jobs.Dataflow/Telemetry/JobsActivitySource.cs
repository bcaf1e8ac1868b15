namespace Jobs.Dataflow;

/// <summary>
/// The name of the <see cref="System.Diagnostics.ActivitySource"/> that traces job runs: one activity
/// per one-shot attempt and per timer run, and per observer item for jobs that opt in. Activities
/// are tagged like the metrics (<c>job.name</c>, <c>job.kind</c>, the group's labels), and a run
/// that throws has status <c>Error</c> and an exception event. Nothing is allocated while nobody listens.
/// </summary>
public static class JobsActivitySource
{
    /// <summary>The name of the activity source, for <c>AddSource</c> in OpenTelemetry or an <see cref="System.Diagnostics.ActivityListener"/>.</summary>
    public const string Name = "Jobs.Dataflow";
}
