using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Internal;

/// <summary>Links a dataflow block straight to the handler's block.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class BlockSource<T> : ObserverSource<T>
{
    private readonly ISourceBlock<T> _source;

    public BlockSource(ISourceBlock<T> source)
    {
        _source = source;
    }

    public override bool FeedsHandlerDirectly => true;

    public override async Task<Exception?> FeedAsync(ITargetBlock<T> target, CancellationToken cancellationToken)
    {
        Task? completion = null;
        Exception? error = null;
        try
        {
            // No PropagateCompletion: a faulted source would fault the handler's block, which drops
            // the items it holds. The source completes only once every item it had was taken, so
            // completing the target after it loses nothing.
            using (_source.LinkTo(target))
            {
                completion = _source.Completion;
                await completion.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        catch (Exception ex)
        {
            // A custom block whose LinkTo, Completion or unlink throws.
            error = ex;
        }

        target.Complete();
        if (cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        return error ?? FaultOf(completion);
    }

    private static Exception? FaultOf(Task? completion) => completion switch
    {
        null or { IsCompleted: false } or { IsCompletedSuccessfully: true } => null,
        { Exception: { InnerExceptions.Count: 1 } fault } => fault.InnerException,
        { Exception: { } fault } => fault,
        _ => new TaskCanceledException(completion),
    };
}
