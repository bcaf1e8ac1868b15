using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A source block whose unlink waits until the test lets it end, and tells when it began.</summary>
internal sealed class SlowUnlinkBlock(BufferBlock<int> inner) : DelegatingSourceBlock(inner)
{
    private readonly TaskCompletionSource _unlinkStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _letUnlink = new();

    public Task UnlinkStarted => _unlinkStarted.Task;

    public void LetUnlink() => _letUnlink.Set();

    public override IDisposable LinkTo(ITargetBlock<int> target, DataflowLinkOptions linkOptions) =>
        new SlowUnlink(this, Inner.LinkTo(target, linkOptions));

    private sealed class SlowUnlink(SlowUnlinkBlock owner, IDisposable link) : IDisposable
    {
        public void Dispose()
        {
            owner._unlinkStarted.TrySetResult();
            owner._letUnlink.Wait(Waits.Timeout);
            link.Dispose();
        }
    }
}
