using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>Options of an observer job: buffering, parallelism, stop behaviour and shutdown on error.</summary>
public sealed class ObserverOptions
{
    /// <summary>The default of <see cref="BoundedCapacity"/>.</summary>
    /// <remarks>
    /// Large enough that a handler rarely waits on its source (the pump refills the buffer while
    /// the handler works, so per-item hand-offs amortize over bursts), small enough that a slow
    /// handler holds at most a few dozen items in memory, whatever their size.
    /// </remarks>
    internal const int DefaultBoundedCapacity = 64;

    private readonly int _boundedCapacity = DefaultBoundedCapacity;
    private readonly int _maxDegreeOfParallelism = 1;

    /// <summary>Gets a value indicating whether the job calls <see cref="IShutdowner.Shutdown"/> with the error when its handler fails.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool ShutdownOnError { get; init; }

    /// <summary>
    /// Gets how many items the job takes from its source ahead of the handler. When they are all
    /// waiting, the job stops pulling from a pull source and blocks an <see cref="IObservable{T}"/>'s
    /// <c>OnNext</c> until the handler makes room. <c>-1</c> (<see cref="DataflowBlockOptions.Unbounded"/>)
    /// means no limit. Besides these, up to <see cref="MaxDegreeOfParallelism"/> items are in the handler.
    /// </summary>
    /// <value>The default is 64: a handler seldom starves, and memory stays small whatever the item size.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below -1.</exception>
    public int BoundedCapacity
    {
        get => _boundedCapacity;
        init => _boundedCapacity = DataflowLimits.Check(value, nameof(BoundedCapacity));
    }

    /// <summary>
    /// Gets how many items the handler may work on at once. With 1, items are handled one at a
    /// time, in source order. <c>-1</c> (<see cref="DataflowBlockOptions.Unbounded"/>) means no limit.
    /// </summary>
    /// <value>The default is 1.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below -1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init => _maxDegreeOfParallelism = DataflowLimits.Check(value, nameof(MaxDegreeOfParallelism));
    }

    /// <summary>
    /// Gets a value indicating whether a stop finishes the buffered items. When set, a stop
    /// detaches the source and the handler goes on with the items already taken from it, with a
    /// live token, until they are done or the token given to <c>StopAsync</c> fires. When not set,
    /// a stop discards them and cancels the handler's token at once.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool DrainOnStop { get; init; }

    /// <summary>
    /// Gets a value indicating whether each item's handling is traced as an activity of the
    /// <see cref="JobsActivitySource.Name"/> source. Off by default: an activity per item costs an
    /// allocation per item while a listener is attached.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool TraceItems { get; init; }

    /// <summary>Gets the options used when none are given.</summary>
    internal static ObserverOptions Default { get; } = new();
}
