using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>A <c>Transform</c> stage: a <see cref="TransformBlock{TInput, TOutput}"/> that maps each item.</summary>
/// <typeparam name="TIn">The type of the input.</typeparam>
/// <typeparam name="TOut">The type of the output.</typeparam>
/// <remarks>
/// A synchronous function without retries runs in the block's synchronous delegate, which allocates
/// nothing per item; an item that fails is then skipped by ending the delegate in cancellation,
/// which the block treats as "no output" rather than as a fault. With retries, or an asynchronous
/// function, the block's asynchronous delegate runs it; a function that completes synchronously
/// still takes the fast path, returning its own task.
/// </remarks>
internal sealed class TransformStage<TIn, TOut> : PipelineStage<TIn, TOut>
{
    private static readonly Task<TOut> Skipped = Task.FromCanceled<TOut>(new CancellationToken(canceled: true));

    private readonly Func<TIn, TOut>? _sync;
    private readonly Func<TIn, CancellationToken, Task<TOut>> _async;
    private readonly TransformBlock<TIn, TOut> _block;

    public TransformStage(PipelineJob job, string name, StageOptions options, Func<TIn, CancellationToken, Task<TOut>> fn)
        : base(job, name, options)
    {
        _async = fn;
        _block = new TransformBlock<TIn, TOut>(CountedAsync<TIn, TOut>(InvokeAsync), BlockOptions);
    }

    private TransformStage(PipelineJob job, string name, StageOptions options, Func<TIn, TOut> fn)
        : base(job, name, options)
    {
        _sync = fn;
        _async = (item, _) => Task.FromResult(fn(item));

        // Stryker disable once Conditional : without retries, the retrying delegate fails an item at its first attempt just as this one does (same counts, log, health and dead letter); the choice only spares an allocation per item.
        _block = options.Retries == 0
            ? new TransformBlock<TIn, TOut>(Counted<TIn, TOut>(Invoke), BlockOptions)
            : new TransformBlock<TIn, TOut>(CountedAsync<TIn, TOut>(InvokeAsync), BlockOptions);
    }

    public override IDataflowBlock Block => _block;

    public override int QueueLength => _block.InputCount;

    public override bool HoldsItems => _block.InputCount > 0 || _block.OutputCount > 0;

    public override ITargetBlock<TIn> Target => _block;

    public override ISourceBlock<TOut> Source => _block;

    /// <summary>Creates the stage of a synchronous function.</summary>
    public static TransformStage<TIn, TOut> Create(PipelineJob job, string name, StageOptions options, Func<TIn, TOut> fn) => new(job, name, options, fn);

    /// <summary>The synchronous path: a function without retries.</summary>
    private TOut Invoke(TIn item)
    {
        CountIn();
        if (Skip(item))
        {
            throw new OperationCanceledException();
        }

        long start = StartTiming();
        TOut result;
        try
        {
            result = _sync!(item);
        }
        catch (Exception ex)
        {
            if (!EndedByCancellation(item, ex))
            {
                FailForGood(item, ex, attempts: 1);
            }

            // No output for this item; the block goes on with the next.
            throw new OperationCanceledException();
        }

        Succeeded(start, 1);
        return result;
    }

    private Task<TOut> InvokeAsync(TIn item)
    {
        CountIn();
        if (Skip(item))
        {
            return Skipped;
        }

        long start = StartTiming();
        Task<TOut> task;
        try
        {
            task = _async(item, Job.StageToken) ?? throw NullTask();
        }
        catch (Exception ex)
        {
            return RetryThenOutputAsync(item, ex, start);
        }

        if (task.IsCompletedSuccessfully)
        {
            Succeeded(start, 1);
            return task;
        }

        return AwaitAsync(item, task, start);
    }

    private async Task<TOut> AwaitAsync(TIn item, Task<TOut> task, long start)
    {
        try
        {
            TOut result = await task.ConfigureAwait(false);
            Succeeded(start, 1);
            return result;
        }
        catch (Exception ex)
        {
            return await RetryThenOutputAsync(item, ex, start).ConfigureAwait(false);
        }
    }

    private async Task<TOut> RetryThenOutputAsync(TIn item, Exception error, long start)
    {
        (bool ok, TOut value) = await RetryAsync(item, error, _async).ConfigureAwait(false);
        if (!ok)
        {
            throw new OperationCanceledException();
        }

        Succeeded(start, 1);
        return value;
    }
}
