using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Hosting;

/// <summary>Registers Jobs.Dataflow in a service collection.</summary>
public static class JobsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IJobRegistry"/> (a <see cref="JobRegistry"/>), the root <see cref="HealthTree"/>
    /// (also as <see cref="IHealth"/>), an <see cref="IShutdowner"/> that stops the host
    /// (<see cref="HostShutdowner"/>), <see cref="IJobMetrics"/> (<see cref="MeterJobMetrics"/>, with the
    /// metrics services it needs) and <see cref="TimeProvider.System"/>, each only where none is
    /// registered yet. Calling it twice is harmless.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The same service collection, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        // Stryker disable once Statement : AddMetrics, the next call, throws the same ArgumentNullException naming services.
        ArgumentNullException.ThrowIfNull(services);

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new HealthTree("root", sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IHealth>(sp => sp.GetRequiredService<HealthTree>());
        services.TryAddSingleton<HostShutdowner>();
        services.TryAddSingleton<IShutdowner>(sp => sp.GetRequiredService<HostShutdowner>());
        services.TryAddSingleton<MeterJobMetrics>();
        services.TryAddSingleton<IJobMetrics>(sp => sp.GetRequiredService<MeterJobMetrics>());
        services.TryAddSingleton<IJobRegistry>(sp => new JobRegistry(
            sp.GetService<ILoggerFactory>(),
            sp.GetRequiredService<IShutdowner>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IJobMetrics>()));
        return services;
    }

    /// <summary>
    /// Creates a group whose jobs report under the health scope <paramref name="name"/>, lets
    /// <paramref name="configure"/> add its jobs, and runs the group as a hosted service. Groups
    /// start in the order they are registered and stop in reverse, like every hosted service.
    /// Calls <see cref="AddJobs"/> itself.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The name of the group's health scope under the root.</param>
    /// <param name="configure">Adds the group's jobs; called once, when the host resolves its hosted services.</param>
    /// <param name="options">The group's logger, metrics and labels.</param>
    /// <returns>The same service collection, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static IServiceCollection AddJobGroup(
        this IServiceCollection services,
        string name,
        Action<IJobGroup, IServiceProvider> configure,
        JobGroupOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);

        services.AddJobs();

        // A plain AddSingleton, not AddHostedService: TryAddEnumerable would fold every group
        // registered through a factory into the first one.
        services.AddSingleton<IHostedService>(sp =>
        {
            IHealth health = sp.GetRequiredService<IHealth>().NewScope(name);
            IJobGroup group = sp.GetRequiredService<IJobRegistry>().NewGroup(health, options);
            if (group is JobGroup own && sp.GetService<IHostApplicationLifetime>() is { } lifetime)
            {
                // Only for a group the host starts: one the host starts once a shutdown was asked for
                // stops instead of failing the host's start. A group the caller starts is theirs.
                own.ApplicationStopping = lifetime.ApplicationStopping;
            }

            configure(group, sp);
            return group;
        });
        return services;
    }
}
