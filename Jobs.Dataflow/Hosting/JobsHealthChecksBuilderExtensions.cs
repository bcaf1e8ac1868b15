using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Jobs.Dataflow.Hosting;

/// <summary>Adds the jobs' health tree to ASP.NET Core-style health checks.</summary>
public static class JobsHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds one health check whose result is the worst level in the <see cref="HealthTree"/>:
    /// <see cref="Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded"/> when any scope is degraded, otherwise
    /// <see cref="Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy"/> (a <c>Stopped</c> scope ended on purpose, and an
    /// <c>Unknown</c> one has not reported yet; neither is a fault). The result's data maps the
    /// path of each degraded scope to its message and error.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The name of the check.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static IHealthChecksBuilder AddJobsHealthCheck(this IHealthChecksBuilder builder, string name = "jobs")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);

        builder.Services.AddJobs();

        // The tree the jobs report to: the registered IHealth when it is a HealthTree (the
        // caller's own), else the HealthTree service. Another IHealth cannot be read back.
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new JobsHealthCheck(sp.GetRequiredService<IHealth>() as HealthTree ?? sp.GetRequiredService<HealthTree>()),
            failureStatus: null,
            tags: null));
    }
}
