using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Timer;

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
        var gated = new GatedRuns();
        TimerRunBlock block = gated.Block;

        block.Post(TimerWake.Tick);
        await gated.WaitForRunAsync();
        for (int i = 0; i < 10; i++)
        {
            block.Post(TimerWake.Fire);
        }

        gated.Release();
        await gated.WaitForRunAsync();
        block.Complete();
        await block.Completion.OrTimeout();

        Assert.AreEqual(2, gated.Runs);
        Assert.IsFalse(gated.Overlapped);
    }

    [TestMethod]
    public async Task Complete_DuringRunWithOnePending_FinishesBothThenCompletesAndDeclines()
    {
        var gated = new GatedRuns();
        TimerRunBlock block = gated.Block;

        block.Post(TimerWake.Tick);
        await gated.WaitForRunAsync();
        block.Post(TimerWake.Tick);
        block.Complete();

        Assert.IsFalse(block.Completion.IsCompleted, "The block completes only once its current run has ended.");
        Assert.IsFalse(block.Post(TimerWake.Tick));
        gated.Release();
        await block.Completion.OrTimeout();

        // Like the action block, the pending run still gets called; the timer job drops it itself
        // because its token is cancelled by then (docs/behaviour.md#rule-5).
        Assert.AreEqual(2, gated.Runs);
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
        var probe = new LastPostProbe();

        for (int round = 1; round <= Rounds; round++)
        {
            var posters = new Task[4];
            for (int p = 0; p < posters.Length; p++)
            {
                posters[p] = Task.Run(() => probe.Post(3));
            }

            await Task.WhenAll(posters).OrTimeout();
            await probe.WaitUntilTheLastPostRanAsync();
        }

        probe.Block.Complete();
        await probe.Block.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task Post_InATightLoopWhileRunsEnd_TheLastPostIsAlwaysRun()
    {
        // A poster that never pauses lands wake-ups in every window where a run is ending; the
        // last run must still see the last post.
        var probe = new LastPostProbe();

        await Task.Run(() => probe.Post(200_000)).OrTimeout();
        await probe.WaitUntilTheLastPostRanAsync();

        probe.Block.Complete();
        await probe.Block.Completion.OrTimeout();
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
        var gated = new GatedRuns();
        TimerRunBlock block = gated.Block;
        block.Post(TimerWake.Tick);
        await gated.WaitForRunAsync();
        block.Post(TimerWake.Tick);

        ((IDataflowBlock)block).Fault(new InvalidOperationException("stop"));
        gated.Release();

        await Assert.ThrowsAsync<InvalidOperationException>(() => block.Completion.OrTimeout());
        Assert.AreEqual(1, gated.Runs);
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

    /// <summary>A block whose runs wait until the test releases them, counting runs and overlaps.</summary>
    private sealed class GatedRuns
    {
        private readonly SemaphoreSlim _entered = new(0);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _runs;
        private int _running;
        private volatile bool _overlapped;

        public GatedRuns()
        {
            Block = new TimerRunBlock(async () =>
            {
                _overlapped |= Interlocked.Increment(ref _running) > 1;
                Interlocked.Increment(ref _runs);
                _entered.Release();
                await _release.Task;
                Interlocked.Decrement(ref _running);
            });
        }

        public TimerRunBlock Block { get; }

        public int Runs => Volatile.Read(ref _runs);

        public bool Overlapped => _overlapped;

        public Task WaitForRunAsync() => _entered.WaitOrTimeout();

        public void Release() => _release.TrySetResult();
    }

    /// <summary>
    /// Counts posts, and records in each run how many posts came before it: after the last post,
    /// some run must see it. Each run signals, so a lost wake-up makes the wait time out.
    /// </summary>
    private sealed class LastPostProbe
    {
        private readonly SemaphoreSlim _ran = new(0);
        private long _posted;
        private long _seenByLastRun;

        public LastPostProbe()
        {
            Block = new TimerRunBlock(() =>
            {
                Volatile.Write(ref _seenByLastRun, Volatile.Read(ref _posted));
                _ran.Release();
                return Task.CompletedTask;
            });
        }

        public TimerRunBlock Block { get; }

        public void Post(int count)
        {
            for (int i = 0; i < count; i++)
            {
                Interlocked.Increment(ref _posted);
                Block.Post(TimerWake.Tick);
            }
        }

        public async Task WaitUntilTheLastPostRanAsync()
        {
            long target = Volatile.Read(ref _posted);
            while (Volatile.Read(ref _seenByLastRun) < target)
            {
                await _ran.WaitOrTimeout();
            }
        }
    }
}
