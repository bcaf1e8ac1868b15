using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Internal;

/// <summary>Where an observer job's items come from: one adapter per kind of source, one way to feed the handler.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal abstract class ObserverSource<T>
{
    /// <summary>
    /// Gets a value indicating whether the source feeds the handler's block directly: a source
    /// block links straight to it, a pump sends into it. The handler's block is then bounded by
    /// the buffer's capacity plus the handler's parallelism, because a separate buffer block would
    /// only add a hop per item. An observable posts into a buffer block in front instead.
    /// </summary>
    public virtual bool FeedsHandlerDirectly => false;

    /// <summary>
    /// Feeds <paramref name="target"/> until the source ends or <paramref name="cancellationToken"/>
    /// is cancelled, then detaches from the source and completes <paramref name="target"/>. It never
    /// faults the target, because a faulted block drops the items it holds: the fault is returned
    /// instead, so the job reports it after those items are handled.
    /// </summary>
    /// <param name="target">The block to feed; bounded, so a full target holds the source back.</param>
    /// <param name="cancellationToken">The job's token: detaches the source when the group stops.</param>
    /// <returns>The source's error; <see langword="null"/> when it completed or the job was stopped. Never faults.</returns>
    public abstract Task<Exception?> FeedAsync(ITargetBlock<T> target, CancellationToken cancellationToken);
}
