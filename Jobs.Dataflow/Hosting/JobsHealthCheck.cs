using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using HealthCheckStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus;

namespace Jobs.Dataflow.Hosting;

/// <summary>Reports the worst level of a <see cref="HealthTree"/> as a health check result.</summary>
internal sealed class JobsHealthCheck : IHealthCheck
{
    private readonly HealthTree _tree;

    public JobsHealthCheck(HealthTree tree) => _tree = tree;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var degraded = new Dictionary<string, object>(StringComparer.Ordinal);
        Exception? firstError = null;
        Collect(_tree.Snapshot(), path: null, degraded, ref firstError);

        HealthCheckResult result = degraded.Count == 0
            ? HealthCheckResult.Healthy("No job is degraded.")
            : new HealthCheckResult(
                HealthCheckStatus.Degraded,
                $"{degraded.Count} scope(s) degraded: {string.Join(", ", degraded.Keys)}",
                firstError,
                degraded);
        return Task.FromResult(result);
    }

    private static void Collect(Dataflow.HealthStatus status, string? path, Dictionary<string, object> degraded, ref Exception? firstError)
    {
        string here = path is null ? status.Name : path + "/" + status.Name;
        if (status.Level == HealthLevel.Degraded)
        {
            var text = new StringBuilder(status.Message);
            if (status.Error is not null)
            {
                text.Append(" (").Append(status.Error.GetType().Name).Append(": ").Append(status.Error.Message).Append(')');
            }

            degraded[here] = text.ToString();
            firstError ??= status.Error;
        }

        foreach (Dataflow.HealthStatus child in status.Children)
        {
            Collect(child, here, degraded, ref firstError);
        }
    }
}
