using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>Options of a pipeline job: buffering, stop behaviour, shutdown and the dead letter.</summary>
public sealed class PipelineOptions
{
    private readonly int _boundedCapacity = ObserverOptions.DefaultBoundedCapacity;

    /// <summary>
    /// Gets how many items may wait in front of each stage. A full stage pauses the stages before
    /// it and, for a pull source, the source. <c>-1</c> (<see cref="DataflowBlockOptions.Unbounded"/>)
    /// means no limit. A stage's <see cref="StageOptions.BoundedCapacity"/> overrides it.
    /// </summary>
    /// <value>The default is 64, as for observers.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below -1.</exception>
    public int BoundedCapacity
    {
        get => _boundedCapacity;
        init => _boundedCapacity = DataflowLimits.Check(value, nameof(BoundedCapacity));
    }

    /// <summary>
    /// Gets a value indicating whether a stop lets every item taken from the source reach the sink
    /// or the dead letter, with live tokens, until the token given to <c>StopAsync</c> fires. When
    /// not set, a stop discards the items in the pipeline and cancels every stage's token.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool DrainOnStop { get; init; }

    /// <summary>Gets a value indicating whether a source fault, or an item that failed for good, calls <see cref="IShutdowner.Shutdown"/> with the error.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool ShutdownOnError { get; init; }

    /// <summary>
    /// Gets a value indicating whether the job calls <see cref="IShutdowner.Shutdown"/> without an
    /// error once its source has ended and every item has left the pipeline: a batch job that ends
    /// its host, with exit code 0, when its input is done.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool ShutdownWhenComplete { get; init; }

    /// <summary>Gets the function that receives every item that failed for good, with its stage, error and attempts.</summary>
    /// <value>The default is <see langword="null"/>: such items are logged and counted only.</value>
    public DeadLetterFunc? DeadLetter { get; init; }

    /// <summary>Gets the options used when none are given.</summary>
    internal static PipelineOptions Default { get; } = new();
}
