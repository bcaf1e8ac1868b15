using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>Options of one pipeline stage: parallelism, order, buffering and retries.</summary>
public sealed class StageOptions
{
    private readonly int _maxDegreeOfParallelism = 1;
    private readonly int? _boundedCapacity;
    private readonly int _retries;

    /// <summary>Gets how many items the stage works on at once. <c>-1</c> (<see cref="DataflowBlockOptions.Unbounded"/>) means no limit.</summary>
    /// <value>The default is 1.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below -1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init => _maxDegreeOfParallelism = DataflowLimits.Check(value, nameof(MaxDegreeOfParallelism));
    }

    /// <summary>Gets a value indicating whether the stage's outputs leave in input order, also when it runs items in parallel.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool EnsureOrdered { get; init; } = true;

    /// <summary>Gets how many items may wait in front of this stage; <see langword="null"/> takes the pipeline's <see cref="PipelineOptions.BoundedCapacity"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below -1.</exception>
    public int? BoundedCapacity
    {
        get => _boundedCapacity;
        init => _boundedCapacity = value is { } capacity ? DataflowLimits.Check(capacity, nameof(BoundedCapacity)) : null;
    }

    /// <summary>Gets how many times an item that fails is retried in this stage: <c>0</c> never, <c>N</c> up to N times, <c>-1</c> forever.</summary>
    /// <value>The default is 0.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is below -1.</exception>
    public int Retries
    {
        get => _retries;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, -1, nameof(Retries));
            _retries = value;
        }
    }

    /// <summary>Gets the wait before each retry of an item.</summary>
    /// <value>The default is <see langword="null"/>: retry at once.</value>
    public IRetryBackoff? Backoff { get; init; }

    /// <summary>Gets the options used when none are given.</summary>
    internal static StageOptions Default { get; } = new();
}
