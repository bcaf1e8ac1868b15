using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// The <c>Sink</c> stage: an <see cref="ActionBlock{TInput}"/> that consumes each item. What it
/// handles without error is the pipeline's output.
/// </summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class SinkStage<T> : PipelineStage
{
    private readonly ObserverFunc<T> _fn;
    private readonly Func<T, CancellationToken, Task<bool>> _retry;
    private readonly ActionBlock<T> _block;

    public SinkStage(PipelineJob job, string name, StageOptions options, ObserverFunc<T> fn)
        : base(job, name, options)
    {
        _fn = fn;
        _retry = async (item, token) =>
        {
            await (_fn(item, token) ?? throw NullTask()).ConfigureAwait(false);

            // Stryker disable once Boolean : RetryAsync hands back whether an attempt succeeded; the sink ignores the value, it has no output.
            return true;
        };
        _block = new ActionBlock<T>(CountedAction<T>(InvokeAsync), BlockOptions);
    }

    public override IDataflowBlock Block => _block;

    public override int QueueLength => _block.InputCount;

    public override bool HoldsItems => _block.InputCount > 0;

    public ITargetBlock<T> Target => _block;

    private Task InvokeAsync(T item)
    {
        CountIn();
        if (Skip(item))
        {
            return Task.CompletedTask;
        }

        long start = StartTiming();
        Task task;
        try
        {
            task = _fn(item, Job.StageToken) ?? throw NullTask();
        }
        catch (Exception ex)
        {
            return RetryThenSinkAsync(item, ex, start);
        }

        if (task.IsCompletedSuccessfully)
        {
            Sunk(start);
            return Task.CompletedTask;
        }

        return AwaitAsync(item, task, start);
    }

    private async Task AwaitAsync(T item, Task task, long start)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await RetryThenSinkAsync(item, ex, start).ConfigureAwait(false);
            return;
        }

        Sunk(start);
    }

    private async Task RetryThenSinkAsync(T item, Exception error, long start)
    {
        (bool ok, _) = await RetryAsync(item, error, _retry).ConfigureAwait(false);
        if (ok)
        {
            Sunk(start);
        }
    }

    private void Sunk(long start)
    {
        Succeeded(start, 1);
        Job.ItemSunk();
    }
}
