using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>What produces a pipeline's items at one point: it connects the next stage's block to itself.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal interface IUpstream<T>
{
    /// <summary>Feeds <paramref name="target"/>, calling <paramref name="admit"/> (if any) for each item as it is offered.</summary>
    /// <param name="target">The next stage's block.</param>
    /// <param name="admit">What observes each item offered to it, or <see langword="null"/>.</param>
    void ConnectTo(ITargetBlock<T> target, Predicate<T>? admit);
}
