using System.Threading.Channels;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Testing;

/// <summary>
/// The stamp the kit's wait for idle reads before each look at the jobs: it confirms idle only when
/// two looks in a row find nothing busy and the same stamp, so the stamp must move at every start
/// and end of user code, and whenever a job goes from running to waiting on time and back.
/// </summary>
[TestClass]
public sealed class IdleTrackerTests
{
    [TestMethod]
    public async Task Stamp_AnAttemptStartsThenEnds_MovesAtEach()
    {
        await using var kit = new JobTestKit();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Job job = Job.OneShot("once", async (_, _) =>
        {
            running.SetResult();
            await release.Task;
        });
        kit.Add(job);
        IdleTracker tracker = ((JobGroup)kit.Group).Tracker!;
        long before = tracker.Stamp;

        await kit.Group.StartAsync(CancellationToken.None);
        await running.OrTimeout();
        long during = tracker.Stamp;
        release.SetResult();
        await job.Completion.OrTimeout();
        long after = tracker.Stamp;

        Assert.AreNotEqual(before, during, "The attempt that started is work the kit must see.");
        Assert.AreNotEqual(during, after, "The attempt that ended is work the kit must see.");
    }

    [TestMethod]
    public async Task Stamp_AJobFinishesStartingWithoutRunningUserCode_Moves()
    {
        // An observer of an empty channel settles into waiting for its source and runs nothing:
        // its settling is the only change the kit can see.
        await using var kit = new JobTestKit();
        var channel = Channel.CreateUnbounded<int>();
        Job job = Job.Observer("idle", (int _, CancellationToken _) => Task.CompletedTask, channel.Reader);
        kit.Add(job);
        var group = (JobGroup)kit.Group;
        IdleTracker tracker = group.Tracker!;
        long before = tracker.Stamp;

        await kit.Group.StartAsync(CancellationToken.None);

        // Settling marks the job settled, then moves the stamp: wait for both.
        using var guard = new CancellationTokenSource(Waits.Timeout);
        while (group.DescribeBusy().Count != 0 || tracker.Stamp == before)
        {
            Assert.IsFalse(guard.IsCancellationRequested, "A job that finished starting changed what the kit must see, but the stamp did not move.");
            await Task.Yield();
        }
    }

    [TestMethod]
    public async Task Stamp_AStageWaitsForItsRetryThenRetries_MovesWhenTheWaitStartsAndWhenItEnds()
    {
        await using var kit = new JobTestKit();
        var channel = Channel.CreateUnbounded<int>();
        var firstCall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var retried = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        kit.Add(Job.Pipeline("flaky", channel.Reader)
            .Transform(
                "call",
                async (int x, CancellationToken _) =>
                {
                    if (Interlocked.Increment(ref calls) == 1)
                    {
                        firstCall.SetResult();
                        await fail.Task;
                        throw new IOException("busy");
                    }

                    retried.SetResult();
                    await release.Task;
                    return x;
                },
                new StageOptions { Retries = 1, Backoff = new ConstantBackoff(TimeSpan.FromSeconds(30)) })
            .Sink("write", (int _, CancellationToken _) => Task.CompletedTask));
        await kit.StartAsync();
        IdleTracker tracker = ((JobGroup)kit.Group).Tracker!;

        channel.Writer.TryWrite(7);
        await firstCall.OrTimeout();
        long running = tracker.Stamp;
        fail.SetResult();
        await kit.WaitUntilIdleAsync();
        long waiting = tracker.Stamp;
        kit.Time.Advance(TimeSpan.FromSeconds(30));
        await retried.OrTimeout();
        long retrying = tracker.Stamp;
        release.SetResult();
        await kit.WaitUntilIdleAsync();

        // The call is in flight throughout, from the first attempt to the retry: only the wait moves the stamp.
        Assert.AreNotEqual(running, waiting, "The stage went from running its function to waiting on time.");
        Assert.AreNotEqual(waiting, retrying, "The stage went from waiting on time back to running its function.");
        Assert.AreEqual(2, calls);
    }
}
