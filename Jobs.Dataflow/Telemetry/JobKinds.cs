namespace Jobs.Dataflow;

/// <summary>The values of the <c>job.kind</c> tag on metrics and activities.</summary>
internal static class JobKinds
{
    public const string OneShot = "oneshot";
    public const string Timer = "timer";
    public const string Observer = "observer";
    public const string Pipeline = "pipeline";

    /// <summary>For an error reported straight to <see cref="MeterJobMetrics"/>, which does not tell the kind.</summary>
    public const string Unknown = "unknown";
}
