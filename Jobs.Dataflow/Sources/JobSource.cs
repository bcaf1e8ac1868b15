namespace Jobs.Dataflow;

/// <summary>Where an observer job's items come from: one adapter per kind of source, one way to feed the handler.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal abstract class JobSource<T>
{
    /// <summary>
    /// Gets a value indicating whether the source feeds the handler's block directly: a source
    /// block links straight to it, a pump sends into it. The handler's block is then bounded by
    /// the buffer's capacity plus the handler's parallelism, because a separate buffer block would
    /// only add a hop per item. An observable posts into a buffer block in front instead.
    /// </summary>
    // Stryker disable once Boolean: a buffer bounded by the capacity in front of a handler's block bounded by the
    // parallelism holds what a handler's block bounded by both holds; only the hop per item tells.
    public virtual bool FeedsHandlerDirectly => false;

    /// <summary>
    /// Gets a value indicating whether a pump pulls the source: it then waits for room in a full
    /// block, and can wait for the block to drain by half if the handler counts what it starts
    /// (see <see cref="SourceFeed{T}.Room"/>).
    /// </summary>
    public virtual bool IsPumped => false;

    /// <summary>
    /// Gets a value indicating whether the group may complete the fed block when it stops. Not for
    /// pumps and pushes: they may hold an item taken from the source while they wait for room, and
    /// complete the block themselves once it is delivered (or discarded).
    /// </summary>
    public virtual bool GroupCompletesTarget => false;

    /// <summary>
    /// Gets a value indicating whether the source has nothing at hand for the job: a pump waits for
    /// its source, a pushed source is always at rest (what it pushed is in the job's blocks). Read by
    /// a test kit once the job settled.
    /// </summary>
    public virtual bool IsAtRest => true;

    /// <summary>
    /// Gets a value indicating whether the job is inside a call to its source that has not returned
    /// (a stream's <c>MoveNextAsync</c> that blocks); read by a test kit, to say what keeps the job busy.
    /// </summary>
    public virtual bool InSourceCall => false;

    /// <summary>
    /// Starts feeding <see cref="SourceFeed{T}.Target"/> until the source ends or the job stops,
    /// then completes the target and reports the end through <see cref="SourceFeed{T}.End"/> and
    /// <see cref="SourceFeed{T}.Released"/>. It never faults the target, because a faulted block
    /// drops the items it holds: the source's fault is reported instead, so the job reports it
    /// after those items are handled.
    /// </summary>
    /// <param name="feed">The run's feed: the target, the tokens and the counters.</param>
    /// <returns><see cref="SourceFeed{T}.Ended"/>: the source's fault, or null when it completed or the job stopped. Never faults.</returns>
    public abstract Task<Exception?> FeedAsync(SourceFeed<T> feed);
}
