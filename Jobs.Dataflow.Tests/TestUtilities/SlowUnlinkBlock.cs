using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A source block whose unlink waits until the test lets it end, and tells when it began.</summary>
internal sealed class SlowUnlinkBlock(BufferBlock<int> inner) : DelegatingSourceBlock(inner)
{
    private readonly TaskCompletionSource _unlinkStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _letUnlink = new();

    public Task UnlinkStarted => _unlinkStarted.Task;

    /// <summary>
    /// Checks that a draining job takes nothing more from a source block once the stop returned,
    /// while the block is still being unlinked: the group completes the job's first block at the
    /// stop itself, so the job handles what it took and nothing else.
    /// </summary>
    /// <param name="makeJob">Makes the job, draining on stop and bounded to one item, from the source and its handler.</param>
    public static async Task AssertADrainingStopTakesNothingMoreAsync(Func<ISourceBlock<int>, ObserverFunc<int>, Job> makeJob)
    {
        await using var harness = new GroupHarness();
        var buffer = new BufferBlock<int>();
        var source = new SlowUnlinkBlock(buffer);
        var handler = new GatedHandler();
        harness.Add(makeJob(source, handler.UntilReleased));
        await harness.StartAsync();
        for (int i = 1; i <= 10; i++)
        {
            Assert.IsTrue(buffer.Post(i));
        }

        await handler.WaitForFirstAsync();

        // The stop completes the job's first block before it returns its task.
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        int takenAtStop = 10 - buffer.Count;
        await source.UnlinkStarted.OrTimeout();
        handler.Release();

        // The drain handles every item taken before the stop, while the source is still linked: then let the unlink end.
        using (var guard = new CancellationTokenSource(Waits.Timeout))
        {
            while (handler.Finished.Count < takenAtStop)
            {
                guard.Token.ThrowIfCancellationRequested();
                await Task.Yield();
            }
        }

        source.LetUnlink();
        await stop.OrTimeout();

        Assert.IsLessThanOrEqualTo(2, takenAtStop, "Only the item being handled and the one waiting for it were taken before the stop.");
        Assert.AreEqual(10 - takenAtStop, buffer.Count, "Nothing was taken from the source after the stop.");
        CollectionAssert.AreEqual(Enumerable.Range(1, takenAtStop).Select(i => (i, false)).ToArray(), handler.Finished.ToArray(), "A draining job handles what it took with a live token.");
    }

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
