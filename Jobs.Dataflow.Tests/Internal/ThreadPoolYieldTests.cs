using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Internal;

[TestClass]
public sealed class ThreadPoolYieldTests
{
    [TestMethod]
    public async Task Await_OnAThreadWithASynchronizationContext_ResumesOnThePoolWithoutPostingToIt()
    {
        var context = new RecordingContext();
        var resumed = new TaskCompletionSource<(bool Pool, SynchronizationContext? Context)>(TaskCreationOptions.RunContinuationsAsynchronously);

        // What a user's function may leave behind on the thread that retries it.
        var thread = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(context);
            _ = ResumeAsync(resumed);
        });
        thread.Start();
        (bool pool, SynchronizationContext? current) = await resumed.OrTimeout();
        thread.Join();

        Assert.IsTrue(pool, "It resumes on a thread pool thread, not inline on the thread that awaited.");
        Assert.IsNull(current);
        Assert.AreEqual(0, context.Posts, "Nothing is posted to the context the thread had.");
    }

    private static async Task ResumeAsync(TaskCompletionSource<(bool Pool, SynchronizationContext? Context)> resumed)
    {
        await ThreadPoolYield.Instance;
        resumed.SetResult((Thread.CurrentThread.IsThreadPoolThread, SynchronizationContext.Current));
    }
}
