using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A source block that passes everything to a buffer block; tests override what they bend.</summary>
internal abstract class DelegatingSourceBlock(BufferBlock<int> inner) : ISourceBlock<int>
{
    public virtual Task Completion => Inner.Completion;

    protected BufferBlock<int> Inner { get; } = inner;

    public void Complete() => Inner.Complete();

    public void Fault(Exception exception) => ((IDataflowBlock)Inner).Fault(exception);

    public virtual IDisposable LinkTo(ITargetBlock<int> target, DataflowLinkOptions linkOptions) => Inner.LinkTo(target, linkOptions);

    public int ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<int> target, out bool messageConsumed) =>
        ((ISourceBlock<int>)Inner).ConsumeMessage(messageHeader, target, out messageConsumed);

    public bool ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<int> target) =>
        ((ISourceBlock<int>)Inner).ReserveMessage(messageHeader, target);

    public void ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<int> target) =>
        ((ISourceBlock<int>)Inner).ReleaseReservation(messageHeader, target);
}
