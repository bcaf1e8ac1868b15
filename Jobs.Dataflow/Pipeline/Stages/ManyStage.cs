using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// A <c>TransformMany</c> or <c>Where</c> stage: a <see cref="TransformManyBlock{TInput, TOutput}"/>
/// that maps each item to zero or more. A failed or skipped item maps to none.
/// </summary>
/// <typeparam name="TIn">The type of the input.</typeparam>
/// <typeparam name="TOut">The type of the output.</typeparam>
/// <remarks>
/// What the function returns is enumerated here, inside the stage's guard: the block would
/// otherwise enumerate it later, where an exception faults the block and drops what it holds.
/// </remarks>
internal sealed class ManyStage<TIn, TOut> : PipelineStage<TIn, TOut>
{
    private readonly Func<TIn, IEnumerable<TOut>> _fn;
    private readonly TransformManyBlock<TIn, TOut> _block;

    public ManyStage(PipelineJob job, string name, StageOptions options, Func<TIn, IEnumerable<TOut>> fn)
        : base(job, name, options)
    {
        _fn = fn;

        // Stryker disable once Conditional : without retries, the retrying delegate fails an item at its first attempt just as this one does (same counts, log, health and dead letter); the choice only spares an allocation per item.
        _block = options.Retries == 0
            ? new TransformManyBlock<TIn, TOut>(Counted<TIn, IEnumerable<TOut>>(Invoke), BlockOptions)
            : new TransformManyBlock<TIn, TOut>(CountedAsync<TIn, IEnumerable<TOut>>(InvokeAsync), BlockOptions);
    }

    public override IDataflowBlock Block => _block;

    public override int QueueLength => _block.InputCount;

    public override bool HoldsItems => _block.InputCount > 0 || _block.OutputCount > 0;

    public override ITargetBlock<TIn> Target => _block;

    public override ISourceBlock<TOut> Source => _block;

    /// <summary>Creates a <c>Where</c> stage: an item maps to itself when the predicate holds, to nothing otherwise.</summary>
    public static ManyStage<TIn, TIn> Where(PipelineJob job, string name, StageOptions options, Func<TIn, bool> predicate) =>
        new(job, name, options, item => predicate(item) ? [item] : []);

    private IEnumerable<TOut> Invoke(TIn item)
    {
        CountIn();
        if (Skip(item))
        {
            return [];
        }

        long start = StartTiming();
        ICollection<TOut> result;
        try
        {
            result = Materialize(_fn(item));
        }
        catch (Exception ex)
        {
            if (!EndedByCancellation(item, ex))
            {
                FailForGood(item, ex, attempts: 1);
            }

            return [];
        }

        Succeeded(start, result.Count);
        return result;
    }

    private async Task<IEnumerable<TOut>> InvokeAsync(TIn item)
    {
        CountIn();
        if (Skip(item))
        {
            return [];
        }

        long start = StartTiming();
        try
        {
            ICollection<TOut> result = Materialize(_fn(item));
            Succeeded(start, result.Count);
            return result;
        }
        catch (Exception ex)
        {
            (bool ok, ICollection<TOut> value) = await RetryAsync(item, ex, (input, _) => Task.FromResult(Materialize(_fn(input)))).ConfigureAwait(false);
            if (!ok)
            {
                return [];
            }

            Succeeded(start, value.Count);
            return value;
        }
    }

    private ICollection<TOut> Materialize(IEnumerable<TOut>? items) => items switch
    {
        null => throw new InvalidOperationException($"The function of stage {Name} of pipeline job {Job.Name} returned null instead of a sequence."),
        ICollection<TOut> collection => collection,
        _ => [.. items],
    };
}
