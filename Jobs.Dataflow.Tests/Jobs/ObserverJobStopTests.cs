using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Jobs.Dataflow.Tests.TestUtilities;
using Moq;

namespace Jobs.Dataflow.Tests.Jobs;

/// <summary>Rules 5, 7, 27 and 28 for observers: stop, drain, and the blocking push of an observable.</summary>
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
