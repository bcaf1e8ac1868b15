using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Groups;

/// <summary>
/// A group started and stopped from a thread with a synchronization context (a UI thread, an old
/// ASP.NET request) never resumes on that context: a caller that blocks on the stop cannot
/// deadlock it, and the context sees none of the library's work.
/// </summary>
[TestClass]
public sealed class SynchronizationContextTests
{
    [TestMethod]
    public async Task StartAndStop_UnderASynchronizationContext_NothingIsPostedToIt()
    {
        await using var harness = new GroupHarness();
        var entered = new TaskCompletionSource();
        harness.Add(
            Job.OneShot("serving", async (_, token) =>
            {
                entered.SetResult();
                await token.UntilCancelledAsync();
            }),
            Job.OneShot("done", (_, _) => Task.CompletedTask));
        var context = new RecordingContext();
        Task stop;

        SynchronizationContext? previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            await harness.Group.StartAsync(CancellationToken.None);
            await entered.Task.WaitAsync(Waits.Timeout).ConfigureAwait(false);
            SynchronizationContext.SetSynchronizationContext(context);
            using var bounded = new CancellationTokenSource();
            stop = harness.Group.StopAsync(bounded.Token);
            Task again = harness.Group.StopAsync(bounded.Token);
            await Task.WhenAll(stop, again).WaitAsync(Waits.Timeout).ConfigureAwait(false);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        Assert.AreEqual(0, context.Posts, "The group's awaits resume on the thread pool, never on the caller's context.");
    }
}
