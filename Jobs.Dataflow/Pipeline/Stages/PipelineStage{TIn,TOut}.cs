using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>A stage between two others: its block takes <typeparamref name="TIn"/> and produces <typeparamref name="TOut"/>.</summary>
/// <typeparam name="TIn">The type of the stage's input.</typeparam>
/// <typeparam name="TOut">The type of the stage's output.</typeparam>
internal abstract class PipelineStage<TIn, TOut> : PipelineStage
{
    protected PipelineStage(PipelineJob job, string name, StageOptions options)
        : base(job, name, options)
    {
    }

    /// <summary>Gets the block the previous stage (or the source) feeds.</summary>
    public abstract ITargetBlock<TIn> Target { get; }

    /// <summary>Gets the block the next stage is linked to.</summary>
    public abstract ISourceBlock<TOut> Source { get; }

    /// <summary>Gets what observes each item offered to the stage (it always admits it); <see langword="null"/> for none.</summary>
    public virtual Predicate<TIn>? Admit => null;

    /// <summary>Gets what observes each item the stage offers to the next (it always lets it go); <see langword="null"/> for none.</summary>
    public virtual Predicate<TOut>? Leave => null;
}
