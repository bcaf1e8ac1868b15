using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Observer;

/// <summary>docs/behaviour.md rules 5, 7, 27 and 28 for observers: stop, drain, and the blocking push of an observable.</summary>
[TestClass]
public sealed class ObserverJobStopTests
{
    private const string Scope = "observer-job-obs";

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task StopAsync_Default_CancelsHandlerAndDiscardsBufferedItems(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var handler = new GatedHandler();
        harness.Add(source.CreateJob("obs", handler.UntilCancelled));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3);
        await handler.WaitForFirstAsync();
        await harness.StopAsync();

        // The handler only ends when its token is cancelled, so the stop returning shows it was.
        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
        Assert.IsTrue(harness.Health.Reports.Any(r => r.Path == Scope && r.Closed), "The scope was not closed before StopAsync returned.");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
    }

    [TestMethod]
    public async Task Dispose_DrainingObserver_CancelsTheHandlersTokenAtOnce()
    {
        // A disposed group (a host disposed without being stopped) must not leave a drain running:
        // the handler's token is the stop's deadline, and disposing cancels it too.
        await using var harness = new GroupHarness();
        var handler = new GatedHandler();
        Job job = Job.Observer("obs", handler.UntilCancelled, new PulledItems(int.MaxValue), new ObserverOptions { DrainOnStop = true });
        harness.Add(job);
        await harness.StartAsync();
        await handler.WaitForFirstAsync();

        ((IDisposable)harness.Group).Dispose();

        await job.Completion.OrTimeout();
        CollectionAssert.AreEqual(new[] { 0 }, handler.Entered.ToArray(), "No item starts once the handler's token is cancelled.");
    }

    [TestMethod]
    public async Task StopAsync_DrainOnStopWithStream_HandlesEveryAcceptedItemWithLiveToken()
    {
        await using var harness = new GroupHarness();
        var stream = new FiveThenWait();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilReleased, stream, new ObserverOptions { DrainOnStop = true }));

        await harness.StartAsync();
        await stream.AllAccepted.OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await stream.Cancelled.OrTimeout();
        Assert.IsFalse(stop.IsCompleted, "The stop did not wait for the buffered items.");

        handler.Release();
        await stop.OrTimeout();

        CollectionAssert.AreEqual(new[] { (1, false), (2, false), (3, false), (4, false), (5, false) }, handler.Finished.ToArray());
    }

    [TestMethod]
    public async Task StopAsync_DrainOnStopWithObservable_DetachesAndHandlesEveryAcceptedItem()
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(SourceKind.Observable);
        var handler = new GatedHandler();
        harness.Add(source.CreateJob("obs", handler.UntilReleased, new ObserverOptions { DrainOnStop = true }));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5);
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await source.Observable.Disposed.OrTimeout();
        await source.WriteAsync(6);

        handler.Release();
        await stop.OrTimeout();

        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 5 }, handler.FinishedItems);
    }

    [TestMethod]
    public async Task StopAsync_DrainOnStopAndStopTokenFires_CancelsHandlerToken()
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(SourceKind.Channel);
        var handlerToken = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var groupCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var witnessEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ObserverFunc<int> fn = async (_, token) =>
        {
            handlerToken.TrySetResult(token);
            await token.UntilCancelledAsync();
        };
        harness.Add(
            source.CreateJob("obs", fn, new ObserverOptions { DrainOnStop = true }),
            Job.OneShot("witness", async (_, token) =>
            {
                witnessEntered.SetResult();
                await token.WhenCancelled();
                groupCancelled.SetResult();
            }));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3);
        CancellationToken token = await handlerToken.OrTimeout();
        await witnessEntered.OrTimeout();
        using var deadline = new CancellationTokenSource();
        Task stop = harness.Group.StopAsync(deadline.Token);
        await groupCancelled.OrTimeout();

        Assert.IsFalse(token.IsCancellationRequested, "While draining, the handler's token must stay live after the group's token fired.");
        Assert.IsFalse(stop.IsCompleted);

        await deadline.CancelAsync();
        await stop.OrTimeout();
        Assert.IsTrue(token.IsCancellationRequested);
        await harness.Health.WaitForCloseAsync(Scope);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable, false)]
    [DataRow(SourceKind.Channel, false)]
    [DataRow(SourceKind.Observable, false)]
    [DataRow(SourceKind.Block, false)]
    [DataRow(SourceKind.AsyncEnumerable, true)]
    [DataRow(SourceKind.Channel, true)]
    [DataRow(SourceKind.Observable, true)]
    [DataRow(SourceKind.Block, true)]
    public async Task StopAsync_SourceNeverProduces_EndsAtOnce(SourceKind kind, bool drainOnStop)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        harness.Add(source.CreateJob("obs", (_, _) => Task.CompletedTask, new ObserverOptions { DrainOnStop = drainOnStop }));

        await harness.StartAsync();
        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");

        await harness.StopAsync();
        Assert.IsTrue(harness.Health.Reports.Any(r => r.Path == Scope && r.Closed));
    }

    [TestMethod]
    public async Task OnNext_BufferFull_BlocksUntilTheHandlerMakesRoom()
    {
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilReleased, observable, new ObserverOptions { BoundedCapacity = 1 }));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();
        var returned = new SemaphoreSlim(0);
        int returnedCount = 0;
        Task pusher = Task.Factory.StartNew(
            () =>
            {
                for (int i = 1; i <= 4; i++)
                {
                    observer.OnNext(i);
                    Interlocked.Increment(ref returnedCount);
                    returned.Release();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        await handler.WaitForFirstAsync();
        await returned.WaitOrTimeout();
        await returned.WaitOrTimeout();

        // One item in the handler, one in the buffer: the third push waits for room.
        Assert.AreEqual(2, Volatile.Read(ref returnedCount));
        Assert.IsFalse(pusher.IsCompleted);

        handler.Release();
        await pusher.OrTimeout();
        observer.OnCompleted();
        await harness.WaitForEndAsync("obs");
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4 }, handler.FinishedItems);
    }

    [TestMethod]
    [DataRow(false, DisplayName = "After OnCompleted")]
    [DataRow(true, DisplayName = "After OnError")]
    public async Task OnNext_AfterTheStreamEnded_IsIgnoredAndLoggedOnce(bool withError)
    {
        // The observable grammar forbids a push after the end; one that breaks it is ignored, even
        // on the same thread at once, rather than handled by a job that was told the stream ended.
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handled = new ConcurrentQueue<int>();
        harness.Add(Job.Observer(
            "obs",
            (int item, CancellationToken _) =>
            {
                handled.Enqueue(item);
                return Task.CompletedTask;
            },
            observable));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();
        observer.OnNext(1);
        observer.OnNext(2);
        if (withError)
        {
            observer.OnError(new IOException("feed gone"));
        }
        else
        {
            observer.OnCompleted();
        }

        observer.OnNext(3);
        observer.OnNext(4);
        await harness.WaitForEndAsync("obs");

        CollectionAssert.AreEqual(new[] { 1, 2 }, handled.ToArray());
        Assert.AreEqual(1, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.SourceLatePush)));
        if (!withError)
        {
            await harness.Health.WaitForAsync("observer-job-obs", HealthLevel.Stopped, "Completed [2]");
        }
    }

    [TestMethod]
    public async Task OnNext_BlockedWhenTheJobStops_ReturnsAndDropsTheItem()
    {
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilCancelled, observable, new ObserverOptions { BoundedCapacity = 1 }));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();
        Task pusher = Task.Factory.StartNew(
            () =>
            {
                for (int i = 1; i <= 3; i++)
                {
                    observer.OnNext(i);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        await handler.WaitForFirstAsync();

        await harness.StopAsync();

        await pusher.OrTimeout();
        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
    }

    [TestMethod]
    public async Task OnNext_AfterTheJobEnded_ReturnsAtOnceAndDropsTheItem()
    {
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var entered = new ConcurrentQueue<int>();
        ObserverFunc<int> fn = (int item, CancellationToken _) =>
        {
            entered.Enqueue(item);
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("obs", fn, observable, new ObserverOptions { BoundedCapacity = 1 }));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();
        await harness.StopAsync();
        await observable.Disposed.OrTimeout();

        // With the job alive, the second push would wait for room behind the first.
        await Task.Run(() =>
        {
            observer.OnNext(1);
            observer.OnNext(2);
            observer.OnNext(3);
        }).OrTimeout();

        Assert.IsEmpty(entered);

        // Ignored without a count (nothing was taken), and named once, not once per push.
        Assert.HasCount(1, harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.SourceLatePush)));
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.ItemsDiscarded)));
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable, false)]
    [DataRow(SourceKind.Channel, false)]
    [DataRow(SourceKind.Channel, true, DisplayName = "A channel the pump waited for before it took the items")]
    public async Task StopAsync_DrainOnStopWhilePumpHoldsAnItem_HandlesTheHeldItem(SourceKind kind, bool waitedFirst)
    {
        // Item 1 is in the handler, item 2 fills the block, item 3 is in the pump's hand. A pump that
        // waited for the channel first runs on its own again once the wait ends: the stop must leave
        // that item to it, as to one that never waited, instead of detaching the channel under it.
        await using var harness = new GroupHarness();
        var source = new CountingSource(10, holdFirstWait: waitedFirst);
        var handler = new GatedHandler();
        var options = new ObserverOptions { DrainOnStop = true, BoundedCapacity = 1 };
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        harness.Add(source.CreateJob(kind, "obs", handler.UntilReleased, options), witness);

        await harness.StartAsync();
        if (waitedFirst)
        {
            await source.FirstWaitAwaited.OrTimeout();
            source.FillAndWake();
        }

        await Task.WhenAll(source.WaitForTakenAsync(3), witnessRunning).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        handler.Release();
        await stop.OrTimeout();

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, handler.FinishedItems, "The item the pump held at the stop was lost.");
        Assert.AreEqual(3, source.Taken, "The pump must not take more from the source once stopped.");
    }

    [TestMethod]
    public async Task StopAsync_DrainOnStopWhilePushBlocked_HandlesTheHeldPush()
    {
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handler = new GatedHandler();
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        harness.Add(Job.Observer("obs", handler.UntilReleased, observable, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 1 }), witness);

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();

        // Item 1 is in the handler, item 2 in the buffer; the third push waits for room.
        Task pusher = await PushThreeUntilTheThirdWaitsAsync(observer, handler);
        await witnessRunning.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        Assert.IsFalse(pusher.IsCompleted, "The third push should still wait for room.");
        handler.Release();
        await stop.OrTimeout();
        await pusher.OrTimeout();

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, handler.FinishedItems, "The push held at the stop was lost.");
    }

    [TestMethod]
    public async Task StopAsync_DrainOnStopWhilePushBlockedAndALatePushComes_HandlesTheHeldPushAndIgnoresTheLateOne()
    {
        // A push after the detach returns at once and is ignored; it must not hold up the end of
        // the buffer, which completes once the push that held an item at the stop has delivered it.
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilReleased, observable, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 1 }));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();

        // Item 1 is in the handler, item 2 in the buffer; the third push waits for room.
        Task pusher = await PushThreeUntilTheThirdWaitsAsync(observer, handler);

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await observable.Disposed.OrTimeout();
        await Task.Run(() => observer.OnNext(4)).OrTimeout();
        handler.Release();
        await stop.OrTimeout();
        await pusher.OrTimeout();

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, handler.FinishedItems);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Warning), "Nothing taken was lost: the late push was not taken at all.");
    }

    [TestMethod]
    public async Task StopAsync_DefaultWhilePushBlocked_CountsTheHeldPushWithTheDiscarded()
    {
        await using var harness = new GroupHarness();
        var observable = new TestObservable<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilCancelled, observable, new ObserverOptions { BoundedCapacity = 1 }));

        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();

        // Item 1 is in the handler, item 2 in the buffer; the third push waits for room.
        Task pusher = await PushThreeUntilTheThirdWaitsAsync(observer, handler);

        await harness.StopAsync();
        await pusher.OrTimeout();

        // Item 2 (skipped in the buffer) and item 3 (dropped by the push that held it) were
        // accepted from the source and never handled: one entry counts both.
        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
        LogEntry discarded = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(2L, discarded["Count"]);
    }

    [TestMethod]
    public async Task StopAsync_DefaultWhilePumpHoldsAnItem_LogsTheCountOfDiscardedItems()
    {
        await using var harness = new GroupHarness();
        var source = new CountingSource(10);
        var handler = new GatedHandler();
        harness.Add(source.CreateJob(SourceKind.AsyncEnumerable, "obs", handler.UntilCancelled, new ObserverOptions { BoundedCapacity = 1 }));

        await harness.StartAsync();

        // Item 1 is in the handler, item 2 fills the block, item 3 is in the pump's hand.
        await Task.WhenAll(source.WaitForTakenAsync(3), handler.WaitForFirstAsync()).OrTimeout();
        await harness.StopAsync();

        // Item 1 ended by cancellation; item 2 (in the block) and item 3 (in the pump's hand) were
        // taken from the source and never handled: one entry counts them.
        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
        LogEntry discarded = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(2L, discarded["Count"]);
        Assert.AreEqual("obs", discarded["JobName"]);
        Assert.AreEqual(3, source.Taken);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task StopAsync_DefaultWhilePumpWaitsForTheBlockToDrain_LogsTheCountOfDiscardedItems(SourceKind kind)
    {
        // Capacity 8: item 1 is in the handler, items 2 to 9 fill the block, and item 10 is in the
        // pump's hand while it waits for the block to drain by half.
        await using var harness = new GroupHarness();
        var source = new CountingSource(20);
        var handler = new GatedHandler();
        harness.Add(source.CreateJob(kind, "obs", handler.UntilCancelled, new ObserverOptions { BoundedCapacity = 8 }));

        await harness.StartAsync();
        await Task.WhenAll(source.WaitForTakenAsync(10), handler.WaitForFirstAsync()).OrTimeout();
        await harness.StopAsync();

        CollectionAssert.AreEqual(new[] { 1 }, handler.Entered.ToArray());
        LogEntry discarded = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ItemsDiscarded));
        Assert.AreEqual(9L, discarded["Count"]);
        Assert.AreEqual(10, source.Taken);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable)]
    [DataRow(SourceKind.Channel)]
    public async Task StopAsync_DrainOnStopWhilePumpWaitsForTheBlockToDrain_HandlesEveryTakenItem(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new CountingSource(20);
        var handler = new GatedHandler();
        (Job witness, Task witnessRunning, Task cancelled) = CancellationWitness();
        harness.Add(source.CreateJob(kind, "obs", handler.UntilReleased, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 8 }), witness);

        await harness.StartAsync();
        await Task.WhenAll(source.WaitForTakenAsync(10), handler.WaitForFirstAsync(), witnessRunning).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        handler.Release();
        await stop.OrTimeout();

        CollectionAssert.AreEqual(Enumerable.Range(1, 10).ToArray(), handler.FinishedItems, "An item taken before the stop was lost.");
        Assert.AreEqual(10, source.Taken, "The pump must not take more from the source once stopped.");
    }

    [TestMethod]
    public async Task StopAsync_DrainCutShortWhilePumpWaitsForTheBlockToDrain_WarnsWithTheCountOfDiscardedItems()
    {
        await using var harness = new GroupHarness();
        var source = new CountingSource(20);
        var handler = new GatedHandler();
        harness.Add(source.CreateJob(SourceKind.AsyncEnumerable, "obs", handler.UntilCancelled, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 8 }));

        await harness.StartAsync();
        await Task.WhenAll(source.WaitForTakenAsync(10), handler.WaitForFirstAsync()).OrTimeout();
        using var expired = new CancellationTokenSource();
        await expired.CancelAsync();
        await harness.Group.StopAsync(expired.Token).OrTimeout();

        LogEntry cutShort = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.DrainCutShort));
        Assert.AreEqual(LogLevel.Warning, cutShort.Level);
        Assert.AreEqual(9L, cutShort["Count"]);
    }

    [TestMethod]
    public async Task StopAsync_DrainCutShortByTheStopToken_WarnsWithTheCountOfDiscardedItems()
    {
        await using var harness = new GroupHarness();
        var source = new CountingSource(10);
        var handler = new GatedHandler();
        harness.Add(source.CreateJob(SourceKind.Channel, "obs", handler.UntilCancelled, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 1 }));

        await harness.StartAsync();
        await Task.WhenAll(source.WaitForTakenAsync(3), handler.WaitForFirstAsync()).OrTimeout();
        using var expired = new CancellationTokenSource();
        await expired.CancelAsync();
        await harness.Group.StopAsync(expired.Token).OrTimeout();

        LogEntry cutShort = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.DrainCutShort));
        Assert.AreEqual(LogLevel.Warning, cutShort.Level);
        Assert.AreEqual(2L, cutShort["Count"]);
    }

    [TestMethod]
    [DataRow(SourceKind.AsyncEnumerable, false)]
    [DataRow(SourceKind.AsyncEnumerable, true)]
    [DataRow(SourceKind.Channel, false)]
    [DataRow(SourceKind.Channel, true)]
    public async Task StopAsync_PulledSourceIgnoresCancellation_ReturnsAfterTheGraceAndWarnsNamingTheJob(SourceKind kind, bool drainOnStop)
    {
        // A stream's pending read, or a channel's wait for an item, that never ends.
        await using var harness = new GroupHarness();
        var stream = new NeverEndingStream();
        var reader = new DeafReader();
        ObserverFunc<int> handler = (_, _) => Task.CompletedTask;
        var options = new ObserverOptions { DrainOnStop = drainOnStop };
        harness.Add(kind == SourceKind.Channel ? Job.Observer("deaf", handler, reader, options) : Job.Observer("deaf", handler, stream, options));

        await harness.StartAsync();
        await (kind == SourceKind.Channel ? reader.Waiting : stream.Pulling).OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        Assert.IsFalse(stop.IsCompleted, "The stop gives the source its grace.");
        harness.Grace.Advance(TimeSpan.FromSeconds(1));
        await stop.OrTimeout();

        LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.SourceNotReleased));
        Assert.AreEqual(LogLevel.Warning, warning.Level);
        Assert.AreEqual("deaf", warning["JobName"]);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task StopAsync_StopComesWhileAPullStillRunsOnThePumpsThread_ActsOnceThePullWaits(bool drainOnStop)
    {
        // The pump does not mark each pull: a stop that finds it running leaves it to the pump,
        // which must act for the stop when the pull turns out to wait. Otherwise the job would
        // wait for that pull forever, and the stop with it.
        await using var harness = new GroupHarness();
        Task pumpSawTheStop = await StartWithAStopWitnessAsync(harness);
        var stream = new NeverEndingStream(returnAfter: pumpSawTheStop);
        Job job = Job.Observer("inside", (int _, CancellationToken _) => Task.CompletedTask, stream, new ObserverOptions { DrainOnStop = drainOnStop });
        harness.Add(job);

        await stream.Pulling.OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        harness.Grace.Advance(TimeSpan.FromSeconds(1));
        await stop.OrTimeout();
        await job.Completion.OrTimeout();

        LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.SourceNotReleased));
        Assert.AreEqual("inside", warning["JobName"]);
    }

    [TestMethod]
    [DataRow(false, nameof(Log.ItemsDiscarded), DisplayName = "Plain stop")]
    [DataRow(true, nameof(Log.SourceLateItem), DisplayName = "Draining stop")]
    public async Task StopAsync_StreamBlocksInsideMoveNextAsync_EndsAfterTheGraceAndLogsTheItemItReturnsLate(bool drainOnStop, string eventName)
    {
        // A stream whose MoveNextAsync blocks its caller, ignoring the token, instead of returning
        // a pending task: the stop cannot reach the pump, which is inside the call.
        await using var harness = new GroupHarness();
        using var stream = new StreamThatBlocks(itemsFirst: 2);
        var handled = new ConcurrentQueue<int>();
        Job job = Job.Observer(
            "stuck",
            (int item, CancellationToken _) =>
            {
                handled.Enqueue(item);
                return Task.CompletedTask;
            },
            stream,
            new ObserverOptions { DrainOnStop = drainOnStop });
        harness.Add(job);
        await harness.StartAsync();
        await stream.StopWhileBlockedAsync(harness, job);

        if (drainOnStop)
        {
            CollectionAssert.AreEqual(new[] { 1, 2 }, handled.ToArray(), "The items taken before the stop are handled.");
        }

        // The call, left behind, returns an item nobody can handle any more.
        await stream.ReturnLateAsync(harness, eventName);
    }

    [TestMethod]
    [DataRow(false, nameof(Log.ItemsDiscarded))]
    [DataRow(true, nameof(Log.SourceLateItem))]
    public async Task StopAsync_StreamYieldsAfterTheJobEnded_LogsTheLateItem(bool drainOnStop, string eventName)
    {
        await using var harness = new GroupHarness();
        var stream = new NeverEndingStream();
        harness.Add(Job.Observer("late", (int _, CancellationToken _) => Task.CompletedTask, stream, new ObserverOptions { DrainOnStop = drainOnStop }));
        await harness.StartAsync();
        await stream.Pulling.OrTimeout();
        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        harness.Grace.Advance(TimeSpan.FromSeconds(1));
        await stop.OrTimeout();

        // The pending read, which ignored the stop, now returns an item nobody can handle.
        stream.Yield(42);

        LogEntry late = await harness.Logs.WaitForAsync(e => e.EventId.Name == eventName);
        Assert.AreEqual(drainOnStop ? LogLevel.Warning : LogLevel.Information, late.Level);
        Assert.AreEqual("late", late["JobName"]);
    }

    [TestMethod]
    public async Task Run_SourceEndsWithASlowDispose_WaitsForItWithoutAGrace()
    {
        await using var harness = new GroupHarness();
        var stream = new SlowDisposeStream(3);
        var allHandled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ObserverFunc<int> fn = (item, _) =>
        {
            if (item == 3)
            {
                allHandled.SetResult();
            }

            return Task.CompletedTask;
        };
        Job job = Job.Observer("patient", fn, stream);
        harness.Add(job);

        await harness.StartAsync();
        await Task.WhenAll(stream.Disposing, allHandled.Task).OrTimeout();

        // An honest source that ended by itself is not cut short: no grace runs while the group does.
        Assert.AreEqual(0, harness.Grace.TimersCreated);
        Assert.IsFalse(job.Completion.IsCompleted);
        stream.FinishDispose();
        await job.Completion.OrTimeout();

        Assert.AreEqual("Completed [3]", harness.Health.Tree.Snapshot().Find("observer-job-patient")?.Message);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Warning));
        Assert.AreEqual(0, harness.Grace.TimersCreated, "A source that let go needs no grace.");
    }

    [TestMethod]
    public async Task StopAsync_SubscriptionDisposeBlocks_ReturnsAfterTheGraceAndWarnsNamingTheJob()
    {
        await using var harness = new GroupHarness();
        using var unblock = new ManualResetEventSlim();
        var observable = new Mock<IObservable<int>>();
        var subscription = new Mock<IDisposable>();
        subscription.Setup(s => s.Dispose()).Callback(() => unblock.Wait(Waits.Timeout));
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        observable.Setup(o => o.Subscribe(It.IsAny<IObserver<int>>())).Callback(subscribed.SetResult).Returns(subscription.Object);
        harness.Add(Job.Observer<int>("stuck", (_, _) => Task.CompletedTask, observable.Object));

        await harness.StartAsync();
        await subscribed.OrTimeout();
        try
        {
            Task stop = harness.Group.StopAsync(CancellationToken.None);
            await harness.Grace.WaitForTimerAsync();
            harness.Grace.Advance(TimeSpan.FromSeconds(1));
            await stop.OrTimeout();

            LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.SourceNotReleased));
            Assert.AreEqual("stuck", warning["JobName"]);
        }
        finally
        {
            unblock.Set();
        }
    }

    [TestMethod]
    public async Task StopAsync_ColdObservablePushesForeverInsideSubscribe_StopsTheProducerAndReturns()
    {
        await using var harness = new GroupHarness();
        var observable = new EndlessColdObservable();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ObserverFunc<int> fn = (_, _) =>
        {
            first.TrySetResult();
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("cold", fn, observable));

        await harness.StartAsync();
        await first.OrTimeout();
        try
        {
            await harness.Group.StopAsync(CancellationToken.None).OrTimeout();

            // The producer's loop was unwound out of Subscribe: it no longer spins a thread.
            Exception? ended = await observable.Ended.OrTimeout();
            Assert.IsInstanceOfType<OperationCanceledException>(ended);
            StringAssert.Contains(ended!.Message, "stopped taking items", "The producer is told why its push throws.");
            LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.SourceStoppedRunawaySubscribe));
            Assert.AreEqual("cold", warning["JobName"]);
        }
        finally
        {
            observable.Stop();
        }
    }

    [TestMethod]
    public Task StopAsync_DrainOnStopWithABlockSourceSlowToUnlink_TakesNothingMoreFromIt() =>
        SlowUnlinkBlock.AssertADrainingStopTakesNothingMoreAsync(
            (source, handler) => Job.Observer("obs", handler, source, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 1 }));

    [TestMethod]
    public async Task StopAsync_DefaultAndAPendingPullYieldsWithinTheGrace_CountsTheItemOnceWithTheDiscarded()
    {
        // The item a pending pull returns after the stop is not handled: it joins the one count
        // the job logs when it ends.
        await using var harness = new GroupHarness();
        var stream = new NeverEndingStream();
        var entered = new ConcurrentQueue<int>();
        ObserverFunc<int> fn = (item, _) =>
        {
            entered.Enqueue(item);
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("late", fn, stream));
        await harness.StartAsync();
        await stream.Pulling.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        stream.Yield(42);
        await stop.OrTimeout();

        Assert.IsEmpty(entered);
        LogEntry[] discarded = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.ItemsDiscarded))];
        Assert.HasCount(1, discarded, "The late item must be counted once, with the other discarded items.");
        Assert.AreEqual(1L, discarded[0]["Count"]);
        Assert.AreEqual("late", discarded[0]["JobName"]);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.SourceNotReleased)), "The source let go within the grace.");
    }

    [TestMethod]
    public async Task StopAsync_DrainOnStopAndAPendingPullYieldsWithinTheGrace_HandlesTheItemWithALiveToken()
    {
        // Draining, the job waits for a pull in flight (for at most the grace): the item it
        // returns was taken from the source, so it is handled like the rest.
        await using var harness = new GroupHarness();
        var stream = new NeverEndingStream();
        var handled = new TaskCompletionSource<(int Item, bool Cancelled)>(TaskCreationOptions.RunContinuationsAsynchronously);
        ObserverFunc<int> fn = (item, token) =>
        {
            handled.TrySetResult((item, token.IsCancellationRequested));
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("pending", fn, stream, new ObserverOptions { DrainOnStop = true }));
        await harness.StartAsync();
        await stream.Pulling.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        stream.Yield(42);
        await stop.OrTimeout();

        Assert.AreEqual((42, false), await handled.OrTimeout());
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Level >= LogLevel.Warning), "Nothing was lost, nor left behind.");
    }

    [TestMethod]
    public async Task StopAsync_DrainOutlastsTheGrace_StillGivesASlowDisposeItsWholeGrace()
    {
        // The grace is for the source to let go: it starts when the job waits for that, once the
        // drain is over, not at the stop. A stop that finds the pump running starts nothing.
        await using var harness = new GroupHarness();
        Task pumpSawTheStop = await StartWithAStopWitnessAsync(harness);
        var stream = new SlowDisposeStream(3);
        var handler = new GatedHandler();
        harness.Add(Job.Observer("slow", handler.UntilReleased, stream, new ObserverOptions { DrainOnStop = true, BoundedCapacity = 1 }));
        await handler.WaitForFirstAsync();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await pumpSawTheStop.OrTimeout();
        Assert.AreEqual(0, harness.Grace.TimersCreated, "The stop found the pump running: no grace yet.");
        harness.Grace.Advance(TimeSpan.FromSeconds(2));
        handler.Release();
        await stream.Disposing.OrTimeout();
        await harness.Grace.WaitForTimerAsync();
        Assert.IsFalse(stop.IsCompleted, "The dispose has its whole grace, however long the drain took.");
        stream.FinishDispose();
        await stop.OrTimeout();

        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.SourceNotReleased)), "The source let go within its grace.");
    }

    [TestMethod]
    public async Task StopAsync_WhileASourceThatEndedDisposesSlowly_WaitsForItOnlyForTheGrace()
    {
        // Without a limit while the group runs, but a stop gives the dispose only the grace.
        await using var harness = new GroupHarness();
        var stream = new SlowDisposeStream(3);
        Job job = Job.Observer("slow", (int _, CancellationToken _) => Task.CompletedTask, stream);
        harness.Add(job);
        await harness.StartAsync();
        await stream.Disposing.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        Assert.IsFalse(stop.IsCompleted, "The stop gives the dispose its grace.");
        harness.Grace.Advance(TimeSpan.FromSeconds(1));
        await stop.OrTimeout();

        LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.SourceNotReleased));
        Assert.AreEqual("slow", warning["JobName"]);
        stream.FinishDispose();
    }

    /// <summary>
    /// A one-shot that ends when the group's token is cancelled, and tells when that happened.
    /// Await <c>Running</c> before the stop: a job the stop overtakes never runs.
    /// </summary>
    /// <summary>
    /// Pushes items 1 to 3 from a thread of its own, as a hot source would, and returns once item 1
    /// is in the handler and the third push has begun; with a capacity of 1 that push waits for room.
    /// </summary>
    private static async Task<Task> PushThreeUntilTheThirdWaitsAsync(IObserver<int> observer, GatedHandler handler)
    {
        var pushing = new SemaphoreSlim(0);
        Task pusher = Task.Factory.StartNew(
            () =>
            {
                for (int i = 1; i <= 3; i++)
                {
                    pushing.Release();
                    observer.OnNext(i);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        await handler.WaitForFirstAsync();
        for (int i = 0; i < 3; i++)
        {
            await pushing.WaitOrTimeout();
        }

        return pusher;
    }

    /// <summary>
    /// Starts the group with a job that registers on the group's token, and returns a task that
    /// completes when that registration's callback runs. A token runs its callbacks in the reverse
    /// order of their registration, so the callback of a job added after this returns (a pump's)
    /// has run by then: the stop, which runs them on the thread pool, has reached that job.
    /// </summary>
    private static async Task<Task> StartWithAStopWitnessAsync(GroupHarness harness)
    {
        var stopSeen = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.OneShot("stop-witness", (_, token) =>
        {
            stopSeen.SetResult(token.WhenCancelled());
            return Task.CompletedTask;
        }));
        await harness.StartAsync();
        return await stopSeen.OrTimeout();
    }

    private static (Job Job, Task Running, Task Cancelled) CancellationWitness()
    {
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Job witness = Job.OneShot("witness", async (_, token) =>
        {
            running.SetResult();
            await token.WhenCancelled();
            cancelled.SetResult();
        });
        return (witness, running.Task, cancelled.Task);
    }

    /// <summary>
    /// Items 1 to N as a stream or a channel, counting what the job took and telling when it took
    /// enough. With <paramref name="holdFirstWait"/>, the channel is empty at first and the job's
    /// first wait for it lasts until <see cref="FillAndWake"/>.
    /// </summary>
    private sealed class CountingSource(int count, bool holdFirstWait = false)
    {
        private readonly Channel<int> _channel = holdFirstWait ? Channel.CreateUnbounded<int>() : CreateFilled(count);
        private readonly SemaphoreSlim _tookOne = new(0);
        private readonly HeldWait? _firstWait = holdFirstWait ? new HeldWait() : null;
        private readonly int _count = count;
        private int _taken;
        private int _waits;

        public int Taken => Volatile.Read(ref _taken);

        /// <summary>Gets a task that completes when the job awaits its first wait for the channel.</summary>
        public Task FirstWaitAwaited => _firstWait!.Awaited;

        /// <summary>Writes the items, then ends the job's first wait.</summary>
        public void FillAndWake()
        {
            for (int i = 1; i <= _count; i++)
            {
                _channel.Writer.TryWrite(i);
            }

            _firstWait!.Complete(true);
        }

        public Job CreateJob(SourceKind kind, string name, ObserverFunc<int> fn, ObserverOptions options) => kind == SourceKind.Channel
            ? Job.Observer(name, fn, new Reader(this), options)
            : Job.Observer(name, fn, YieldAsync(), options);

        public async Task WaitForTakenAsync(int atLeast)
        {
            while (Taken < atLeast)
            {
                await _tookOne.WaitOrTimeout();
            }
        }

        private static Channel<int> CreateFilled(int count)
        {
            var channel = Channel.CreateUnbounded<int>();
            for (int i = 1; i <= count; i++)
            {
                channel.Writer.TryWrite(i);
            }

            return channel;
        }

        private void Took()
        {
            Interlocked.Increment(ref _taken);
            _tookOne.Release();
        }

        private async IAsyncEnumerable<int> YieldAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            while (await _channel.Reader.WaitToReadAsync(cancellationToken))
            {
                while (_channel.Reader.TryRead(out int item))
                {
                    Took();
                    yield return item;
                }
            }
        }

        /// <summary>The channel's reader, counting each item read out of it.</summary>
        private sealed class Reader(CountingSource owner) : ChannelReader<int>
        {
            public override bool TryRead(out int item)
            {
                if (!owner._channel.Reader.TryRead(out item))
                {
                    return false;
                }

                owner.Took();
                return true;
            }

            public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
                owner._firstWait is { } held && Interlocked.Increment(ref owner._waits) == 1
                    ? held.Wait
                    : owner._channel.Reader.WaitToReadAsync(cancellationToken);
        }
    }

    /// <summary>
    /// A stream whose MoveNextAsync ignores its token and completes only when the test makes it yield;
    /// with <paramref name="returnAfter"/>, the call itself returns only once that task completed, so
    /// that a stop can come while the pull still runs on the pump's thread.
    /// </summary>
    private sealed class NeverEndingStream(Task? returnAfter = null) : IAsyncEnumerable<int>, IAsyncEnumerator<int>
    {
        private readonly TaskCompletionSource _pulling = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<bool> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Pulling => _pulling.Task;

        public int Current { get; private set; }

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) => this;

        public ValueTask<bool> MoveNextAsync()
        {
            _pulling.TrySetResult();
            returnAfter?.Wait(Waits.Timeout);

            return new ValueTask<bool>(_next.Task);
        }

        public void Yield(int item)
        {
            Current = item;
            _next.TrySetResult(true);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A channel that never holds an item, and whose wait for one ignores its token.</summary>
    private sealed class DeafReader : ChannelReader<int>
    {
        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<bool> _never = new();

        public Task Waiting => _waiting.Task;

        public override bool TryRead(out int item)
        {
            item = 0;
            return false;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
        {
            _waiting.TrySetResult();
            return new ValueTask<bool>(_never.Task);
        }
    }

    /// <summary>A stream of a few items whose DisposeAsync takes until the test lets it finish.</summary>
    private sealed class SlowDisposeStream(int count) : IAsyncEnumerable<int>
    {
        private readonly TaskCompletionSource _disposing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Disposing => _disposing.Task;

        public void FinishDispose() => _finish.TrySetResult();

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) => new Enumerator(this, count);

        private sealed class Enumerator(SlowDisposeStream owner, int count) : IAsyncEnumerator<int>
        {
            public int Current { get; private set; }

            public ValueTask<bool> MoveNextAsync() => new(++Current <= count);

            public async ValueTask DisposeAsync()
            {
                owner._disposing.TrySetResult();
                await owner._finish.Task;
            }
        }
    }

    /// <summary>A cold observable that pushes inside Subscribe until the test stops it, or OnNext throws.</summary>
    private sealed class EndlessColdObservable : IObservable<int>
    {
        private readonly TaskCompletionSource<Exception?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _stopped;

        /// <summary>Gets a task that completes when the producer's loop ended, with what ended it.</summary>
        public Task<Exception?> Ended => _ended.Task;

        public IDisposable Subscribe(IObserver<int> observer)
        {
            try
            {
                for (int i = 0; !_stopped; i++)
                {
                    observer.OnNext(i);
                }
            }
            catch (Exception ex)
            {
                _ended.TrySetResult(ex);
                throw;
            }

            _ended.TrySetResult(null);
            return Mock.Of<IDisposable>();
        }

        public void Stop() => _stopped = true;
    }

    /// <summary>Yields 1 to 5, then waits for cancellation; tells when all five were accepted and when it was cancelled.</summary>
    private sealed class FiveThenWait : IAsyncEnumerable<int>
    {
        private readonly TaskCompletionSource _allAccepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task AllAccepted => _allAccepted.Task;

        public Task Cancelled => _cancelled.Task;

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
            ProduceAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

        private async IAsyncEnumerable<int> ProduceAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            for (int i = 1; i <= 5; i++)
            {
                yield return i;
            }

            // The pump asks for a sixth item only after its buffer accepted the fifth.
            _allAccepted.SetResult();
            try
            {
                await cancellationToken.UntilCancelledAsync();
            }
            finally
            {
                _cancelled.SetResult();
            }
        }
    }
}
