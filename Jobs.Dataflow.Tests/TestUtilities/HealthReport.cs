namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>One report to a health scope, with the scope's path from the root.</summary>
internal sealed record HealthReport(string Path, HealthLevel Level, string Message, Exception? Error, bool Closed = false);
