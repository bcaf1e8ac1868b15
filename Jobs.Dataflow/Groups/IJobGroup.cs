using Microsoft.Extensions.Hosting;

namespace Jobs.Dataflow;

/// <summary>
/// A set of jobs that start and stop together. As an <see cref="IHostedService"/>,
/// <see cref="IHostedService.StartAsync"/> launches the queued jobs and
/// <see cref="IHostedService.StopAsync"/> cancels them all and waits until every one has ended.
/// </summary>
public interface IJobGroup : IScopedJobGroup, IHostedService
{
    /// <summary>Gets a view of the group whose jobs report health under the child scope <paramref name="name"/>.</summary>
    /// <param name="name">The name of the health scope.</param>
    /// <returns>A scoped view; its jobs start and stop with this group.</returns>
    IScopedJobGroup Scoped(string name);
}
