using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Internal;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Internal;

/// <summary>The timer's run block must behave like the ActionBlock it replaces (MaxDegreeOfParallelism 1, bound 2).</summary>
[TestClass]
public sealed class TimerRunBlockTests
{
    [TestMethod]
    public async Task Post_WhileIdle_RunsOnce()
    {
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int runs = 0;
        var block = new TimerRunBlock(() =>
        {
            Interlocked.Increment(ref runs);
            ran.TrySetResult();
            return Task.CompletedTask;
        });

        Assert.IsTrue(block.Post(TimerWake.Tick));
        await ran.OrTimeout();
        block.Complete();
        await block.Completion.OrTimeout();

        Assert.AreEqual(1, runs);
    }

    [TestMethod]
    public async Task Post_ManyDuringRun_CoalesceIntoOneRunRightAfterIt()
    {
        var entered = new SemaphoreSlim(0);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int runs = 0;
        int running = 0;
        bool overlapped = false;
        var block = new TimerRunBlock(async () =>
        {
            overlapped |= Interlocked.Increment(ref running) > 1;
            Interlocked.Increment(ref runs);
            entered.Release();
            await release.Task;
            Interlocked.Decrement(ref running);
        });

        block.Post(TimerWake.Tick);
        await entered.WaitOrTimeout();
        for (int i = 0; i < 10; i++)
        {
            block.Post(TimerWake.Fire);
        }

        release.SetResult();
        await entered.WaitOrTimeout();
        block.Complete();
        await block.Completion.OrTimeout();

        Assert.AreEqual(2, runs);
        Assert.IsFalse(overlapped);
    }

    [TestMethod]
    public async Task Complete_DuringRunWithOnePending_FinishesBothThenCompletesAndDeclines()
    {
        var entered = new SemaphoreSlim(0);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int runs = 0;
        var block = new TimerRunBlock(async () =>
        {
            Interlocked.Increment(ref runs);
            entered.Release();
            await release.Task;
        });

        block.Post(TimerWake.Tick);
        await entered.WaitOrTimeout();
        block.Post(TimerWake.Tick);
        block.Complete();

        Assert.IsFalse(block.Completion.IsCompleted, "The block completes only once its current run has ended.");
        Assert.IsFalse(block.Post(TimerWake.Tick));
        release.SetResult();
        await block.Completion.OrTimeout();

        // Like the action block, the pending run still gets called; the timer job drops it itself
        // because its token is cancelled by then (rule 5).
        Assert.AreEqual(2, runs);
    }

    [TestMethod]
    public async Task Complete_WhileIdle_CompletesAtOnce()
    {
        var block = new TimerRunBlock(() => Task.CompletedTask);

        block.Complete();

        await block.Completion.OrTimeout();
        Assert.IsFalse(block.Post(TimerWake.Tick));
    }

    [TestMethod]
    public async Task LinkTo_BroadcastBlockFiredBefore_RunsOnceRightAfterLink()
    {
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var broadcast = new BroadcastBlock<TimerWake>(cloningFunction: null);
        broadcast.Post(TimerWake.Fire);
        var block = new TimerRunBlock(() =>
        {
            ran.TrySetResult();
            return Task.CompletedTask;
        });

        using IDisposable link = broadcast.LinkTo(block);

        await ran.OrTimeout();
    }

    [TestMethod]
    public async Task Run_Throws_FaultsCompletionLikeAnActionBlock()
    {
        var block = new TimerRunBlock(() => throw new InvalidOperationException("broken run"));

        block.Post(TimerWake.Tick);

        InvalidOperationException error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.OrTimeout());
        Assert.AreEqual("broken run", error.Message);
    }

    [TestMethod]
    public async Task Post_FromManyThreadsAsRunsEnd_NeverLosesAWakeUp()
    {
        // Every post must be followed by a run that starts after it: a wake-up that lands exactly
        // as a run ends may fold into a pending run, but never disappear.
        const int Rounds = 10_000;
        long posted = 0;
        long seenByLastRun = 0;
        var ran = new SemaphoreSlim(0);
        var block = new TimerRunBlock(() =>
        {
            Volatile.Write(ref seenByLastRun, Volatile.Read(ref posted));
            ran.Release();
            return Task.CompletedTask;
        });

        for (int round = 1; round <= Rounds; round++)
        {
            var posters = new Task[4];
            for (int p = 0; p < posters.Length; p++)
            {
                posters[p] = Task.Run(() =>
                {
                    for (int i = 0; i < 3; i++)
                    {
                        Interlocked.Increment(ref posted);
                        block.Post(TimerWake.Tick);
                    }
                });
            }

            await Task.WhenAll(posters).OrTimeout();
            long target = Volatile.Read(ref posted);

            // Each run signals; a lost wake-up means no run comes after the last post, and the wait times out.
            while (Volatile.Read(ref seenByLastRun) < target)
            {
                await ran.WaitOrTimeout();
            }
        }

        block.Complete();
        await block.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task Post_InATightLoopWhileRunsEnd_TheLastPostIsAlwaysRun()
    {
        // A poster that never pauses lands wake-ups in every window where a run is ending; the
        // last run must still see the last post.
        const int Posts = 200_000;
        long posted = 0;
        long seenByLastRun = 0;
        var ran = new SemaphoreSlim(0);
        var block = new TimerRunBlock(() =>
        {
            Volatile.Write(ref seenByLastRun, Volatile.Read(ref posted));
            ran.Release();
            return Task.CompletedTask;
        });

        await Task.Run(() =>
        {
            for (int i = 0; i < Posts; i++)
            {
                Interlocked.Increment(ref posted);
                block.Post(TimerWake.Tick);
            }
        }).OrTimeout();

        while (Volatile.Read(ref seenByLastRun) < Posts)
        {
            await ran.WaitOrTimeout();
        }

        block.Complete();
        await block.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task Complete_RacingPostsAndRunEnds_CompletesAfterTheLastRunAndRefusesLaterPosts()
    {
        const int Rounds = 10_000;
        for (int round = 0; round < Rounds; round++)
        {
            int active = 0;
            bool completedDuringRun = false;
            TimerRunBlock? block = null;
            block = new TimerRunBlock(() =>
            {
                Interlocked.Increment(ref active);
                completedDuringRun |= block!.Completion.IsCompleted;
                Interlocked.Decrement(ref active);
                return Task.CompletedTask;
            });

            Task poster = Task.Run(() =>
            {
                for (int i = 0; i < 3; i++)
                {
                    block.Post(TimerWake.Tick);
                }
            });
            Task completer = Task.Run(block.Complete);
            await Task.WhenAll(poster, completer).OrTimeout();

            await block.Completion.OrTimeout();
            Assert.AreEqual(0, Volatile.Read(ref active), $"round {round}: completed while a run was active");
            Assert.IsFalse(completedDuringRun, $"round {round}");
            Assert.IsFalse(block.Post(TimerWake.Tick), $"round {round}: a completed block must refuse posts");
        }
    }

    [TestMethod]
    public async Task Fault_WithARunPending_DropsThePendingRunLikeAnActionBlock()
    {
        var entered = new SemaphoreSlim(0);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int runs = 0;
        var block = new TimerRunBlock(async () =>
        {
            Interlocked.Increment(ref runs);
            entered.Release();
            await release.Task;
        });
        block.Post(TimerWake.Tick);
        await entered.WaitOrTimeout();
        block.Post(TimerWake.Tick);

        ((IDataflowBlock)block).Fault(new InvalidOperationException("stop"));
        release.SetResult();

        await Assert.ThrowsAsync<InvalidOperationException>(() => block.Completion.OrTimeout());
        Assert.AreEqual(1, runs);
    }

    [TestMethod]
    public async Task Run_Cancelled_DoesNotFaultTheBlock()
    {
        var ran = new SemaphoreSlim(0);
        var block = new TimerRunBlock(() =>
        {
            ran.Release();
            return Task.FromCanceled(new CancellationToken(canceled: true));
        });

        block.Post(TimerWake.Tick);
        await ran.WaitOrTimeout();
        Assert.IsTrue(block.Post(TimerWake.Tick), "The block must go on after a cancelled run.");
        await ran.WaitOrTimeout();
        block.Complete();

        await block.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task LinkedFromACloningBroadcastBlock_ConsumesAndRunsEachFire()
    {
        var broadcast = new BroadcastBlock<TimerWake>(wake => wake);
        var ran = new SemaphoreSlim(0);
        var block = new TimerRunBlock(() =>
        {
            ran.Release();
            return Task.CompletedTask;
        });
        using IDisposable link = broadcast.LinkTo(block);

        broadcast.Post(TimerWake.Fire);
        await ran.WaitOrTimeout();
        broadcast.Post(TimerWake.Fire);
        await ran.WaitOrTimeout();
    }
}
