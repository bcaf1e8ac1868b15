using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Testing;

/// <summary>
/// What a tracked job counts so that the kit never sees an item nowhere: the tasks of its blocks,
/// from the moment they are queued until they have run, and an asynchronous call of user code
/// until the block it returns to has taken its result.
/// </summary>
[TestClass]
public sealed class WorkSchedulerTests
{
    [TestMethod]
    public async Task Tasks_ATaskQueuedThenRun_CountsFromTheQueueUntilItHasRun()
    {
        var tracker = new IdleTracker();
        var scheduler = new WorkScheduler(tracker);
        using var gate = new ManualResetEventSlim();
        long stamp = tracker.Stamp;

        Task task = Task.Factory.StartNew(gate.Wait, CancellationToken.None, TaskCreationOptions.None, scheduler);

        Assert.AreEqual(1, scheduler.Tasks, "A task queued and not yet run moves an item nobody else sees.");
        Assert.AreNotEqual(stamp, tracker.Stamp, "The kit must see the task begin.");
        gate.Set();
        await task.OrTimeout();
        Assert.IsTrue(SpinWait.SpinUntil(() => scheduler.Tasks == 0, Waits.Timeout), "A task that has run is no longer counted.");
    }

    [TestMethod]
    public async Task Tasks_ATaskThatThrows_IsNoLongerCountedOnceItEnded()
    {
        var scheduler = new WorkScheduler(new IdleTracker());

        Task task = Task.Factory.StartNew(() => throw new InvalidOperationException("boom"), CancellationToken.None, TaskCreationOptions.None, scheduler);

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => task.OrTimeout());
        Assert.IsTrue(SpinWait.SpinUntil(() => scheduler.Tasks == 0, Waits.Timeout), "A task that threw is still counted.");
    }

    [TestMethod]
    public void Tasks_ATaskRunInline_CountsWhileItRuns()
    {
        var scheduler = new WorkScheduler(new IdleTracker());
        long during = -1;
        var task = new Task(() => during = scheduler.Tasks);

        task.RunSynchronously(scheduler);

        Assert.AreEqual(TaskStatus.RanToCompletion, task.Status);
        Assert.AreEqual(1, during, "A task run on the calling thread is counted while it runs.");
        Assert.AreEqual(0, scheduler.Tasks);
    }

    [TestMethod]
    public async Task QueueTask_ALongRunningTask_RunsOnAThreadOfItsOwnAndIsCounted()
    {
        var scheduler = new WorkScheduler(new IdleTracker());
        bool onThePool = true;
        long during = -1;

        await Task.Factory.StartNew(
            () =>
            {
                onThePool = Thread.CurrentThread.IsThreadPoolThread;
                during = scheduler.Tasks;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            scheduler).OrTimeout();

        Assert.IsFalse(onThePool, "A task that asks to run long must not hold a thread of the pool.");
        Assert.AreEqual(1, during);
        Assert.IsTrue(SpinWait.SpinUntil(() => scheduler.Tasks == 0, Waits.Timeout));
    }

    [TestMethod]
    public async Task QueueTask_UserCodeStartsATaskWithoutAScheduler_ItIsTheJobsToo()
    {
        var scheduler = new WorkScheduler(new IdleTracker());
        TaskScheduler? inner = null;

        await Task.Factory.StartNew(
            () => Task.Factory.StartNew(() => inner = TaskScheduler.Current),
            CancellationToken.None,
            TaskCreationOptions.None,
            scheduler).Unwrap().OrTimeout();

        Assert.AreSame(scheduler, inner, "A task user code starts inside a block runs on the block's scheduler.");
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task UserCodeInABlock_RunsOnTheJobsSchedulerOnlyUnderAKit(bool underAKit)
    {
        // Every block user code runs in: the handler, a stage's function, the sink, the dead letter.
        var schedulers = new ConcurrentDictionary<string, TaskScheduler>();
        var channel = Channel.CreateUnbounded<int>();
        var pipe = Channel.CreateUnbounded<int>();
        Job observer = Job.Observer(
            "observer",
            (int _, CancellationToken _) =>
            {
                schedulers["handler"] = TaskScheduler.Current;
                return Task.CompletedTask;
            },
            channel.Reader);
        Job pipeline = Job.Pipeline(
                "pipeline",
                pipe.Reader,
                new PipelineOptions
                {
                    DeadLetter = (_, _) =>
                    {
                        schedulers["dead letter"] = TaskScheduler.Current;
                        return Task.CompletedTask;
                    },
                })
            .Transform("map", (int x) =>
            {
                schedulers["stage"] = TaskScheduler.Current;
                return x;
            })
            .Sink("write", (int x, CancellationToken _) =>
            {
                schedulers["sink"] = TaskScheduler.Current;
                return x == 2 ? throw new IOException("disk") : Task.CompletedTask;
            });

        await using var kit = new JobTestKit();
        await using var harness = new GroupHarness();
        if (underAKit)
        {
            kit.Add(observer);
            kit.Add(pipeline);
            await kit.StartAsync();
        }
        else
        {
            harness.Add(observer);
            harness.Add(pipeline);
            await harness.StartAsync();
        }

        channel.Writer.TryWrite(1);
        channel.Writer.Complete();
        pipe.Writer.TryWrite(1);
        pipe.Writer.TryWrite(2);
        pipe.Writer.Complete();
        await observer.Completion.OrTimeout();
        await pipeline.Completion.OrTimeout();

        // The harness tracks idleness too when the suite runs with tracking on everywhere.
        bool tracked = underAKit || GroupHarness.TracksIdle;
        CollectionAssert.AreEquivalent(new[] { "handler", "stage", "sink", "dead letter" }, schedulers.Keys.ToArray());
        foreach ((string where, TaskScheduler scheduler) in schedulers)
        {
            Assert.AreEqual(tracked, scheduler is WorkScheduler, $"The {where} ran on {scheduler.GetType().Name}.");
            Assert.AreEqual(!tracked, ReferenceEquals(scheduler, TaskScheduler.Default), $"Untracked, the {where} runs on the default scheduler.");
        }
    }

    [TestMethod]
    public async Task CountAsync_CallCompletesLater_CountEndsOnlyAfterTheBlocksContinuationRan()
    {
        var counter = new WorkCounter(new IdleTracker());
        var result = new TaskCompletionSource<int>();
        long inFlightInTheContinuation = -1;

        Task<int> counted = counter.CountAsync(static result => result.Task, result);
        Task taken = counted.ContinueWith(
            _ => inFlightInTheContinuation = counter.InFlight,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        Assert.AreEqual(1, counter.InFlight, "The call is in flight until its task completes.");
        result.SetResult(7);
        await taken.OrTimeout();

        Assert.AreEqual(7, await counted);
        Assert.AreEqual(1, inFlightInTheContinuation, "The block took the result while the call was no longer counted: the item was unseen in between.");
        Assert.AreEqual(0, counter.InFlight);
    }

    [TestMethod]
    public async Task CountAsync_CallWithoutResultCompletesLater_CountEndsOnlyAfterTheBlocksContinuationRan()
    {
        var counter = new WorkCounter(new IdleTracker());
        var done = new TaskCompletionSource();
        long inFlightInTheContinuation = -1;

        Task counted = counter.CountAsync(static done => done.Task, done);
        Task taken = counted.ContinueWith(
            _ => inFlightInTheContinuation = counter.InFlight,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        done.SetResult();
        await taken.OrTimeout();

        Assert.AreEqual(1, inFlightInTheContinuation, "The block saw the end of the call while it was no longer counted.");
        Assert.AreEqual(0, counter.InFlight);
    }

    [TestMethod]
    public void CountAsync_CallThrowsAtOnce_ThrowsToTheBlockAndEndsTheCount()
    {
        // A block skips an item whose delegate throws a cancellation at once, and faults on any
        // other error: it must see the throw itself, not a task that stands for it.
        var counter = new WorkCounter(new IdleTracker());

        Assert.ThrowsExactly<OperationCanceledException>(() => counter.CountAsync<int, int>(static _ => throw new OperationCanceledException(), 0));
        Assert.ThrowsExactly<InvalidOperationException>(() => counter.CountAsync<int>(static _ => throw new InvalidOperationException("boom"), 0));
        Assert.AreEqual(0, counter.InFlight);
    }

    [TestMethod]
    public void CountAsync_CallReturnsNull_ReturnsNullAndEndsTheCount()
    {
        var counter = new WorkCounter(new IdleTracker());

        Assert.IsNull(counter.CountAsync<int, int>(static _ => null!, 0));
        Assert.IsNull(counter.CountAsync<int>(static _ => null!, 0));
        Assert.AreEqual(0, counter.InFlight, "A null task ends the call: the count must not stay up.");
    }

    [TestMethod]
    public async Task Tasks_ATaskQueuedThenWaitedFor_RunsInlineAndIsCountedUntilItsWorkItemRan()
    {
        // Wait on a queued task: the waiting thread may run it, and the pool's work item finds it done.
        var scheduler = new WorkScheduler(new IdleTracker());
        using var hold = new ManualResetEventSlim();
        Task blocker = Task.Factory.StartNew(hold.Wait, CancellationToken.None, TaskCreationOptions.None, scheduler);
        Task queued = Task.Factory.StartNew(() => { }, CancellationToken.None, TaskCreationOptions.None, scheduler);

        Assert.IsTrue(queued.Wait(Waits.Timeout), "A queued task waited for must run.");
        hold.Set();
        await blocker.OrTimeout();

        Assert.IsTrue(SpinWait.SpinUntil(() => scheduler.Tasks == 0, Waits.Timeout), "Every task queued, however it ran, is no longer counted.");
    }

    [TestMethod]
    public async Task CountAsync_CallFaultsOrIsCancelledLater_TheBlockSeesTheSameEnd()
    {
        var counter = new WorkCounter(new IdleTracker());
        var fails = new TaskCompletionSource<int>();
        var cancelled = new TaskCompletionSource();
        using var cts = new CancellationTokenSource();

        Task<int> failing = counter.CountAsync(static fails => fails.Task, fails);
        Task cancelling = counter.CountAsync(static cancelled => cancelled.Task, cancelled);
        fails.SetException(new IOException("disk"));
        cts.Cancel();
        cancelled.SetCanceled(cts.Token);

        await Assert.ThrowsExactlyAsync<IOException>(() => failing);
        var canceled = await Assert.ThrowsExactlyAsync<TaskCanceledException>(() => cancelling);
        Assert.AreEqual(cts.Token, canceled.CancellationToken, "A cancelled call keeps its token: a block tells a skipped item by it.");
        Assert.AreEqual(0, counter.InFlight);
    }
}
