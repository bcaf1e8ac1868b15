using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>A link that adds one stage after the previous link.</summary>
/// <typeparam name="TIn">The type of the stage's input.</typeparam>
/// <typeparam name="TOut">The type of the stage's output.</typeparam>
internal sealed class StageChain<TIn, TOut> : PipelineChain<TOut>
{
    private static readonly DataflowLinkOptions PropagateCompletion = new() { PropagateCompletion = true };

    private readonly PipelineChain<TIn> _previous;
    private readonly string _name;
    private readonly Func<PipelineJob, PipelineStage<TIn, TOut>> _create;

    public StageChain(PipelineChain<TIn> previous, string name, Func<PipelineJob, PipelineStage<TIn, TOut>> create)
    {
        _previous = previous;
        _name = name;
        _create = create;
    }

    public override PipelineHead Head => _previous.Head;

    public override IUpstream<TOut> Build(PipelineJob job)
    {
        IUpstream<TIn> upstream = _previous.Build(job);
        PipelineStage<TIn, TOut> stage = _create(job);
        job.AddStage(stage);
        upstream.ConnectTo(stage.Target, stage.Admit);
        return new StageUpstream(stage);
    }

    internal override bool HasStage(string name) => string.Equals(_name, name, StringComparison.Ordinal) || _previous.HasStage(name);

    /// <summary>Links a stage's block to the next stage's, with completion propagated.</summary>
    private sealed class StageUpstream(PipelineStage<TIn, TOut> stage) : IUpstream<TOut>
    {
        public void ConnectTo(ITargetBlock<TOut> target, Predicate<TOut>? admit)
        {
            Predicate<TOut>? leave = stage.Leave;
            Predicate<TOut>? both = (leave, admit) switch
            {
                (null, null) => null,
                (null, _) => admit,
                (_, null) => leave,

                // Stryker disable once Bitwise : both predicates only count and always return true, and | calls both as & does.
                _ => item => leave(item) & admit(item),
            };

            // A predicate only observes (it always returns true): the batch stage counts what leaves
            // and what arrives, to time its partial batches.
            _ = both is null ? stage.Source.LinkTo(target, PropagateCompletion) : stage.Source.LinkTo(target, PropagateCompletion, both);
        }
    }
}
