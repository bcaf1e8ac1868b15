using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using HealthCheckStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus;

namespace Jobs.Dataflow.Hosting;

/// <summary>Adds the jobs' health tree to ASP.NET Core-style health checks.</summary>
public static class JobsHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds one health check whose result is the worst level in the <see cref="HealthTree"/>:
    /// <see cref="HealthCheckStatus.Unhealthy"/> when any scope has <see cref="HealthLevel.Failed"/>,
    /// <see cref="HealthCheckStatus.Degraded"/> when any is degraded, otherwise <see cref="HealthCheckStatus.Healthy"/>
    /// (a <c>Stopped</c> scope ended on purpose, and an <c>Unknown</c> one has not reported yet;
    /// neither is a fault). The result's data maps the path of each failed or degraded scope to
    /// its message and error.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The name of the check.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static IHealthChecksBuilder AddJobsHealthCheck(this IHealthChecksBuilder builder, string name = "jobs") =>
        AddJobsHealthCheck(builder, name, failureStatus: null, tags: null);

    /// <summary>
    /// Adds one health check whose result is the worst level in the <see cref="HealthTree"/>:
    /// <paramref name="failureStatus"/> when any scope has <see cref="HealthLevel.Failed"/> (a job that
    /// gave up, a source that faulted), <see cref="HealthCheckStatus.Degraded"/> when any is degraded,
    /// otherwise <see cref="HealthCheckStatus.Healthy"/>. The result's data maps the path of each
    /// failed or degraded scope to its message and error.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The name of the check.</param>
    /// <param name="failureStatus">The result when a scope failed; <see cref="HealthCheckStatus.Unhealthy"/> when <see langword="null"/>.</param>
    /// <param name="tags">Tags to filter the check by, as for any health check.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="failureStatus"/> is not a value of <see cref="HealthCheckStatus"/>.</exception>
    public static IHealthChecksBuilder AddJobsHealthCheck(
        this IHealthChecksBuilder builder,
        string name,
        HealthCheckStatus? failureStatus,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (failureStatus is { } given && !Enum.IsDefined(given))
        {
            // A cast number would be reported as is, and a report's overall status ignores it: a failed job would read healthy.
            throw new ArgumentOutOfRangeException(nameof(failureStatus), given, "Not a HealthStatus value: use Unhealthy, Degraded or Healthy.");
        }

        builder.Services.AddJobs();
        HealthCheckStatus onFailure = failureStatus ?? HealthCheckStatus.Unhealthy;

        // The tree the jobs report to: the registered IHealth when it is a HealthTree (the
        // caller's own), else the HealthTree service. Another IHealth cannot be read back.
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new JobsHealthCheck(sp.GetRequiredService<IHealth>() as HealthTree ?? sp.GetRequiredService<HealthTree>(), onFailure),
            onFailure,
            tags));
    }
}
