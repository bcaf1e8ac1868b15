using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>Links a dataflow block straight to the handler's block.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class BlockSource<T> : JobSource<T>
{
    private readonly ISourceBlock<T> _source;

    public BlockSource(ISourceBlock<T> source)
    {
        _source = source;
    }

    public override bool FeedsHandlerDirectly => true;

    // The handler's block takes items from the source itself, only while it has room, and holds
    // every item it took: completing it on stop loses nothing (a postponed offer stays in the source).
    public override bool GroupCompletesTarget => true;

    // A buffer block can say what it still holds; any other block is taken at its word, as its
    // offers reach the handler's block on their own.
    public override bool IsAtRest => _source is not BufferBlock<T> { Count: > 0 };

    public override async Task<Exception?> FeedAsync(SourceFeed<T> feed)
    {
        Task? completion = null;
        Exception? error = null;
        CancellationToken stop = feed.StopToken;
        try
        {
            // No PropagateCompletion: a faulted source would fault the handler's block, which drops
            // the items it holds. The source completes only once every item it had was taken, so
            // completing the target after it loses nothing.
            using (feed.Admit is { } admit ? _source.LinkTo(feed.Target, new DataflowLinkOptions(), admit) : _source.LinkTo(feed.Target))
            {
                completion = _source.Completion;
                await completion.WaitAsync(stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        catch (Exception ex)
        {
            // A custom block whose LinkTo, Completion or unlink throws.
            error = ex;
        }

        feed.CompleteTarget();
        feed.Released();

        // Without an error, the link was made and completion read. After a stop, what this reports
        // does not matter: a stopped job ignores how its source ended (docs/behaviour.md#rule-6).
        feed.End(error ?? FaultOf(completion!));
        return await feed.Ended.ConfigureAwait(false);
    }

    /// <summary>What ended a source block: null when it completed cleanly, or has not completed (the job stopped).</summary>
    private static Exception? FaultOf(Task completion) => completion switch
    {
        { Exception: { InnerExceptions.Count: 1 } fault } => fault.InnerException,
        { Exception: { } fault } => fault,
        { IsCanceled: true } => new TaskCanceledException(completion),
        _ => null,
    };
}
