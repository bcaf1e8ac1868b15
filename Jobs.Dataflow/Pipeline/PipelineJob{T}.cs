namespace Jobs.Dataflow;

/// <summary>A pipeline job whose sink consumes items of type <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The type of the items the sink consumes.</typeparam>
internal sealed class PipelineJob<T> : PipelineJob
{
    private readonly PipelineChain<T> _chain;
    private readonly string _sinkName;
    private readonly ObserverFunc<T> _sink;
    private readonly StageOptions _sinkOptions;

    public PipelineJob(PipelineChain<T> chain, string sinkName, ObserverFunc<T> sink, StageOptions sinkOptions)
        : base(chain.Head)
    {
        _chain = chain;
        _sinkName = sinkName;
        _sink = sink;
        _sinkOptions = sinkOptions;
    }

    internal override async Task ExecuteAsync(JobContext context)
    {
        Begin(context);

        // Built front to back: each link builds those before it, then its own block, and links it.
        IUpstream<T> upstream = _chain.Build(this);
        var sink = new SinkStage<T>(this, _sinkName, _sinkOptions, _sink);
        AddStage(sink);
        upstream.ConnectTo(sink.Target, admit: null);

        Open();
        Task<Exception?> ended = Head.StartAsync();
        context.Settle();
        await sink.Block.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // Normally the first stage completed before the sink did, and the pump has let go. Only a
        // block that faulted (a bug of the library) ends the sink first, with the pump perhaps
        // still waiting for the first stage to drain or to take its item: end both waits, so the
        // pump discards its item, counted, and returns.
        Stages[0].CloseRoom();
        Stages[0].Block.Complete();
        Exception? fault = await ended.ConfigureAwait(false);
        await Head.WaitForReleaseAsync().ConfigureAwait(false);
        await CloseAsync().ConfigureAwait(false);
        End(fault);
    }
}
