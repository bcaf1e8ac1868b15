namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A call to the shutdowner, with the health reports made before it (see <see cref="GroupHarness.RecordShutdown"/>).</summary>
internal sealed record ShutdownCall(Exception? Error, IReadOnlyList<HealthReport> ReportsBefore)
{
    /// <summary>Gets the last report to the scope at <paramref name="path"/> before the call.</summary>
    public HealthReport LastReport(string path) => ReportsBefore.Last(report => report.Path == path && !report.Closed);
}
