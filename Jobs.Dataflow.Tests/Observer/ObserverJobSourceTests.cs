using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Observer;

/// <summary>docs/behaviour.md rules 23, 24, 26 and 28 for each kind of source.</summary>
[TestClass]
public sealed class ObserverJobSourceTests
{
    private const string Scope = "observer-job-obs";

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Run_SourceOfEachKind_HandlesEveryItemInSourceOrder(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var handled = new ConcurrentQueue<int>();
        Job job = source.CreateJob("obs", (item, _) =>
        {
            handled.Enqueue(item);
            return Task.CompletedTask;
        });
        harness.Add(job);

        await harness.StartAsync();
        int[] items = [.. Enumerable.Range(1, 200)];
        await source.WriteAsync(items);
        await source.CompleteAsync();
        await job.Completion.OrTimeout();

        CollectionAssert.AreEqual(items, handled.ToArray());
        harness.Metrics.Verify(m => m.ObserverRunDuration("obs", It.IsAny<TimeSpan>(), RunOutcome.Ok, null), Times.Exactly(items.Length));
    }

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Run_SourceCompletesWhileItemsAreBuffered_EndsAfterHandlingThem(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var handler = new GatedHandler();
        Job job = source.CreateJob("obs", handler.UntilReleased);
        harness.Add(job);

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5);
        await source.CompleteAsync();
        await handler.WaitForFirstAsync();
        Assert.IsFalse(job.Completion.IsCompleted, "The job ended while an item was in its handler.");

        handler.Release();
        await job.Completion.OrTimeout();

        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 5 }, handler.FinishedItems);
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverSourceCompleted) && Equals(e["Count"], 5L));

        // docs/behaviour.md rules 7 and 24: the scope stays, with the count, until the group stops.
        HealthStatus scope = harness.Health.Tree.Snapshot().Find(Scope)!;
        Assert.AreEqual(HealthLevel.Stopped, scope.Level);
        Assert.AreEqual("Completed [5]", scope.Message);
        await harness.StopAsync();
        Assert.IsNull(harness.Health.Tree.Snapshot().Find(Scope), "The group's stop must close the scope of a job that ended by itself.");
    }

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Run_SourceFaultsWhileItemsAreBuffered_HandlesThemThenLogsAndFails(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var handler = new GatedHandler();
        Job job = source.CreateJob("obs", handler.UntilReleased);
        harness.Add(job);
        var error = new InvalidOperationException("source broke");

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3);
        await handler.WaitForFirstAsync();
        await source.CompleteAsync(error);
        handler.Release();

        LogEntry log = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverSourceFailed));
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, handler.FinishedItems, "The fault was reported before the buffered items were handled.");
        Assert.AreEqual(LogLevel.Error, log.Level);
        Assert.AreEqual("obs", log["JobName"]);
        Assert.AreSame(error, log.Exception);
        await job.Completion.OrTimeout();
        HealthStatus failed = harness.Health.Tree.Snapshot().Find(Scope)!;
        Assert.AreEqual(HealthLevel.Failed, failed.Level, "A faulted source leaves the job Failed, and the scope stays.");
        Assert.AreSame(error, failed.Error);
        harness.Metrics.Verify(m => m.JobError("obs", error), Times.Once);
    }

    [TestMethod]
    public async Task Run_SubscribeThrows_FailsWithTheErrorOfSubscribe()
    {
        await using var harness = new GroupHarness();
        var error = new InvalidOperationException("cannot subscribe");
        var observable = new Mock<IObservable<int>>();
        observable.Setup(o => o.Subscribe(It.IsAny<IObserver<int>>())).Throws(error);
        harness.Add(Job.Observer<int>("obs", (_, _) => Task.CompletedTask, observable.Object));

        await harness.StartAsync();

        LogEntry log = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverSourceFailed));
        Assert.AreSame(error, log.Exception);
        HealthReport failed = await harness.Health.WaitForAsync(Scope, HealthLevel.Failed);
        Assert.AreSame(error, failed.Error);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task Run_HandlerBlockedWithCapacityFour_PullsOnlyCapacityPlusConstantAhead(SourceKind kind)
    {
        const int Capacity = 4;
        const int Slack = 2; // the item in the handler and the one the pump holds while the block is full
        await using var harness = new GroupHarness();
        var pulls = new PulledItems(100);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int handledCount = 0;
        int maxLead = 0;
        ObserverFunc<int> fn = async (item, _) =>
        {
            first.TrySetResult();
            await release.Task;
            int handled = Interlocked.Increment(ref handledCount);
            Atomic.Max(ref maxLead, pulls.Pulled - handled);
        };
        var options = new ObserverOptions { BoundedCapacity = Capacity };
        Job job = kind == SourceKind.Channel
            ? Job.Observer("obs", fn, pulls.AsChannel(), options)
            : Job.Observer("obs", fn, pulls, options);
        harness.Add(job);

        await harness.StartAsync();
        await first.OrTimeout();
        await pulls.WaitForPulledAsync(1 + Capacity);
        int leadWhileBlocked = pulls.Pulled;
        release.SetResult();
        await job.Completion.OrTimeout();

        Assert.IsLessThanOrEqualTo(1 + Capacity + Slack, leadWhileBlocked);
        Assert.IsLessThanOrEqualTo(Capacity + Slack, maxLead);
        Assert.AreEqual(100, handledCount);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task Run_HandlerSlowerThanTheSource_PullsAgainOnlyOnceTheBlockDrainedByHalf(SourceKind kind)
    {
        // A block of 9 (the capacity and the item in the handler): the pump that found it full
        // waits until the handler started 4 more items, not for the first free slot.
        const int Capacity = 8;
        const int Block = Capacity + 1;
        await using var harness = new GroupHarness();
        var pulls = new PulledItems(1_000);
        var started = new SemaphoreSlim(0);
        var finish = new SemaphoreSlim(0);
        ObserverFunc<int> fn = async (_, _) =>
        {
            started.Release();
            await finish.WaitAsync();
        };
        var options = new ObserverOptions { BoundedCapacity = Capacity };
        harness.Add(kind == SourceKind.Channel ? Job.Observer("obs", fn, pulls.AsChannel(), options) : Job.Observer("obs", fn, pulls, options));

        await harness.StartAsync();
        int pulledWhileDraining = await pulls.PulledWhileTheBlockDrainsAsync(started, finish, Block, harness.Logs);

        Assert.AreEqual(Block + 1, pulledWhileDraining, "The pump took another item before the block drained by half.");
        LogEntry paused = harness.Logs.Entries.Single(entry => entry.EventId.Id == 77);
        Assert.AreEqual(LogLevel.Debug, paused.Level);
        Assert.AreEqual("obs", paused.Fields["JobName"]);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task Run_TheHandlersBlockFaultsWhileThePumpWaitsForRoom_TheJobEndsAndLogsTheDiscardThenTheFault(SourceKind kind)
    {
        // No user code can fault the handler's block (the handler catches everything), so this
        // stands for a bug of the library. The job must still end, although its source never
        // does: the pump lets go of the item it holds, counted, and takes nothing more.
        const int Block = 4 + 1;
        await using var harness = new GroupHarness();
        var pulls = new PulledItems(int.MaxValue);
        var handler = new GatedHandler();
        var options = new ObserverOptions { BoundedCapacity = 4 };
        var job = (ObserverJob<int>)(kind == SourceKind.Channel
            ? Job.Observer("obs", handler.UntilReleased, pulls.AsChannel(), options)
            : Job.Observer("obs", handler.UntilReleased, pulls, options));
        harness.Add(job);

        await harness.StartAsync();
        await handler.WaitForFirstAsync();
        await pulls.WaitForPulledAsync(Block + 1);
        var bug = new InvalidOperationException("a bug in a block");
        job.HandlerBlock!.Fault(bug);
        handler.Release();
        await job.Completion.OrTimeout();

        Assert.AreEqual(Block + 1, pulls.Pulled, "The pump took nothing once the block refused its item.");
        List<LogEntry> entries = [.. harness.Logs.Entries];
        int discarded = entries.FindIndex(entry => entry.EventId.Name == nameof(Log.ItemsDiscardedByAFailedBlock));
        int crashed = entries.FindIndex(entry => entry.EventId.Name == nameof(Log.JobCrashed));
        Assert.IsGreaterThanOrEqualTo(0, discarded, "The item in the pump's hand is counted.");
        Assert.AreEqual(1L, entries[discarded]["Count"]);
        Assert.IsGreaterThan(discarded, crashed, "The fault is logged after the count.");
        Assert.AreSame(bug, entries[crashed].Exception);
        HealthStatus scope = harness.Health.Tree.Snapshot().Find(Scope)!;
        Assert.AreEqual(HealthLevel.Failed, scope.Level, "A job that crashed will not run again: its last status says so.");
    }

    [TestMethod]
    public async Task Run_BlockSourceWithHandlerBlocked_LeavesTheRestInTheSource()
    {
        const int Capacity = 4;
        await using var harness = new GroupHarness();
        var source = new BufferBlock<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilReleased, source, new ObserverOptions { BoundedCapacity = Capacity }));

        await harness.StartAsync();
        for (int i = 0; i < 100; i++)
        {
            Assert.IsTrue(source.Post(i));
        }

        await handler.WaitForFirstAsync();

        // The job holds at most its capacity plus the item in the handler; the rest stays put.
        Assert.IsGreaterThanOrEqualTo(100 - Capacity - 1, source.Count);
        handler.Release();
    }

    [TestMethod]
    [DataRow("two faults")]
    [DataRow("cancelled")]
    [DataRow("link throws")]
    public async Task Run_BlockSourceEndsAbnormally_FailsWithWhatEndedIt(string ending)
    {
        // docs/behaviour.md#rule-26 for a source block that does not complete cleanly: the job ends
        // Failed, and the shutdown gets the error that ended the source (every error of a block
        // that faulted with several, a cancellation as one).
        await using var harness = new GroupHarness();
        var first = new InvalidOperationException("first");
        var second = new IOException("second");
        var source = ending switch
        {
            "two faults" => new ScriptedBlock(FaultedWith(first, second)),
            "cancelled" => new ScriptedBlock(Task.FromCanceled(new CancellationToken(canceled: true))),
            _ => new ScriptedBlock(new TaskCompletionSource().Task, linkError: first),
        };
        harness.Add(Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, source, new ObserverOptions { ShutdownOnError = true }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("obs");

        HealthReport failed = await harness.Health.WaitForAsync("observer-job-obs", HealthLevel.Failed);
        Exception error = failed.Error!;
        harness.Shutdowner.Verify(s => s.Shutdown(error), Times.Once);
        switch (ending)
        {
            case "two faults":
                CollectionAssert.AreEqual(new Exception[] { first, second }, ((AggregateException)error).InnerExceptions.ToArray());
                break;
            case "cancelled":
                Assert.IsInstanceOfType<TaskCanceledException>(error);
                break;
            default:
                Assert.AreSame(first, error);
                break;
        }
    }

    [TestMethod]
    public async Task StopAsync_BlockSourceWhoseUnlinkThrows_EndsAsStoppedNotFailed()
    {
        // docs/behaviour.md#rule-6: what a source throws once the job is stopped is a normal end.
        await using var harness = new GroupHarness();
        var source = new ScriptedBlock(new TaskCompletionSource().Task, unlinkError: new InvalidOperationException("unlink broke"));
        harness.Add(Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, source, new ObserverOptions { ShutdownOnError = true }));

        await harness.StartAsync();
        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");
        await harness.StopAsync();

        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.ObserverSourceFailed)), "A stopped job's source did not fail.");
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception>()), Times.Never);
    }

    private static Task FaultedWith(params Exception[] errors)
    {
        var faulted = new TaskCompletionSource();
        faulted.SetException(errors);
        return faulted.Task;
    }

    /// <summary>A source block that offers nothing and ends as it is told: its completion, or a link that throws.</summary>
    private sealed class ScriptedBlock(Task completion, Exception? linkError = null, Exception? unlinkError = null) : ISourceBlock<int>
    {
        public Task Completion => completion;

        public void Complete()
        {
        }

        public void Fault(Exception exception)
        {
        }

        public IDisposable LinkTo(ITargetBlock<int> target, DataflowLinkOptions linkOptions) => linkError switch
        {
            null when unlinkError is not null => new ThrowingUnlink(unlinkError),
            null => new CancellationTokenSource(),
            _ => throw linkError,
        };

        public int ConsumeMessage(DataflowMessageHeader messageHeader, ITargetBlock<int> target, out bool messageConsumed)
        {
            messageConsumed = false;
            return 0;
        }

        public bool ReserveMessage(DataflowMessageHeader messageHeader, ITargetBlock<int> target) => false;

        public void ReleaseReservation(DataflowMessageHeader messageHeader, ITargetBlock<int> target)
        {
        }

        private sealed class ThrowingUnlink(Exception error) : IDisposable
        {
            public void Dispose() => throw error;
        }
    }
}
