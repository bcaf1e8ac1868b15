using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using HealthCheckStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus;

namespace Jobs.Dataflow.Hosting;

/// <summary>Reports the worst level of a <see cref="HealthTree"/> as a health check result.</summary>
internal sealed class JobsHealthCheck : IHealthCheck
{
    private readonly HealthTree _tree;
    private readonly HealthCheckStatus _failureStatus;

    public JobsHealthCheck(HealthTree tree, HealthCheckStatus failureStatus)
    {
        _tree = tree;
        _failureStatus = failureStatus;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var findings = new Findings();
        Collect(_tree.Snapshot(), path: null, findings);

        if (findings.Data.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("No job is degraded or failed."));
        }

        HealthCheckStatus status = findings.Failed > 0 ? _failureStatus : HealthCheckStatus.Degraded;
        string description = findings.Failed > 0
            ? $"{findings.Failed} scope(s) failed, {findings.Degraded} degraded: {string.Join(", ", findings.Data.Keys)}"
            : $"{findings.Degraded} scope(s) degraded: {string.Join(", ", findings.Data.Keys)}";
        return Task.FromResult(new HealthCheckResult(status, description, findings.FirstFailure ?? findings.FirstError, findings.Data));
    }

    private static void Collect(Dataflow.HealthStatus status, string? path, Findings findings)
    {
        string here = path is null ? status.Name : path + "/" + status.Name;
        if (status.Level is HealthLevel.Degraded or HealthLevel.Failed)
        {
            var text = new StringBuilder();
            if (status.Level == HealthLevel.Failed)
            {
                text.Append("Failed: ");
                findings.Failed++;
                findings.FirstFailure ??= status.Error;
            }
            else
            {
                findings.Degraded++;
            }

            text.Append(status.Message);
            if (status.Error is not null)
            {
                text.Append(" (").Append(status.Error.GetType().Name).Append(": ").Append(status.Error.Message).Append(')');
            }

            findings.Data[UniqueKey(findings.Data, here)] = text.ToString();
            findings.FirstError ??= status.Error;
        }

        foreach (Dataflow.HealthStatus child in status.Children)
        {
            Collect(child, here, findings);
        }
    }

    /// <summary>
    /// The path itself, or, when a scope met earlier has it too (jobs of one name in one group, two
    /// groups of one name), the path followed by <c> #2</c>, <c> #3</c>...: no scope hides another.
    /// </summary>
    private static string UniqueKey(Dictionary<string, object> data, string path)
    {
        string key = path;
        for (int n = 2; data.ContainsKey(key); n++)
        {
            key = $"{path} #{n}";
        }

        return key;
    }

    private sealed class Findings
    {
        public Dictionary<string, object> Data { get; } = new(StringComparer.Ordinal);

        public int Failed { get; set; }

        public int Degraded { get; set; }

        public Exception? FirstFailure { get; set; }

        public Exception? FirstError { get; set; }
    }
}
