using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Internal;

/// <summary>Where an observer job's items come from: one adapter per kind of source, one way to feed the handler.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal abstract class ObserverSource<T>
{
    /// <summary>
    /// Gets a value indicating whether the source is a dataflow block already, that buffers and
    /// offers its items itself: it then links straight to the handler's block, because a second
    /// buffer would only add a hop per item.
    /// </summary>
    public virtual bool IsBlock => false;

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
