using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Observer;

/// <summary>docs/behaviour.md rules 23, 25, 29 and 30: the handler, its errors, health and options.</summary>
[TestClass]
public sealed class ObserverJobTests
{
    private const string Scope = "observer-job-obs";

    [TestMethod]
    public async Task Run_ParallelismTwo_RunsTwoHandlersAtOnce()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var bothInside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inside = 0;
        ObserverFunc<int> fn = async (int _, CancellationToken _) =>
        {
            if (Interlocked.Increment(ref inside) == 2)
            {
                bothInside.SetResult();
            }

            // With one handler at a time the second never enters, and this times out.
            await bothInside.OrTimeout();
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader, new ObserverOptions { MaxDegreeOfParallelism = 2 }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);

        await bothInside.OrTimeout();
    }

    [TestMethod]
    public async Task Run_DefaultOptionsAsyncHandler_HandlesOneItemAtATimeInOrder()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var gates = Enumerable.Range(0, 5).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var entered = new SemaphoreSlim(0);
        var order = new ConcurrentQueue<int>();
        int inside = 0;
        int maxInside = 0;
        ObserverFunc<int> fn = async (item, _) =>
        {
            int now = Interlocked.Increment(ref inside);
            Atomic.Max(ref maxInside, now);
            order.Enqueue(item);
            entered.Release();
            await gates[item].Task;
            Interlocked.Decrement(ref inside);
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader));
        await harness.StartAsync();
        for (int i = 0; i < gates.Length; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();

        // Each item is let go only once it is inside; the next may only enter after that.
        for (int i = 0; i < gates.Length; i++)
        {
            await entered.WaitOrTimeout();
            Assert.AreEqual(1, Volatile.Read(ref inside), $"item {i}");
            gates[i].SetResult();
        }

        await harness.WaitForEndAsync("obs");
        Assert.AreEqual(1, maxInside);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4 }, order.ToArray());
    }

    [TestMethod]
    public async Task Run_HandlerThrows_LogsDegradesAndGoesOnWithTheNextItem()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handled = new ConcurrentQueue<int>();
        var error = new InvalidOperationException("bad item");
        ObserverFunc<int> fn = (int item, CancellationToken _) =>
        {
            if (item == 2)
            {
                throw error;
            }

            handled.Enqueue(item);
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("obs");

        CollectionAssert.AreEqual(new[] { 1, 3 }, handled.ToArray());
        LogEntry log = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverHandlerFailed));
        Assert.AreEqual(LogLevel.Error, log.Level);
        Assert.AreEqual("obs", log["JobName"]);
        Assert.AreSame(error, log.Exception);
        HealthReport degraded = await harness.Health.WaitForAsync(Scope, HealthLevel.Degraded);
        Assert.AreSame(error, degraded.Error);
        Assert.AreEqual("Handler failed: bad item", degraded.Message);
        harness.Metrics.Verify(m => m.JobError("obs", error), Times.Once);
        harness.Metrics.Verify(m => m.ObserverRunDuration("obs", It.IsAny<TimeSpan>(), RunOutcome.Error, error), Times.Once);
        harness.Metrics.Verify(m => m.ObserverRunDuration("obs", It.IsAny<TimeSpan>(), RunOutcome.Ok, null), Times.Exactly(2));
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverSourceCompleted) && Equals(e["Count"], 2L));
    }

    [TestMethod]
    public async Task Run_HandlerFaultsAsynchronously_LogsAndGoesOn()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handled = new ConcurrentQueue<int>();
        ObserverFunc<int> fn = async (int item, CancellationToken _) =>
        {
            await Task.Yield();
            if (item == 1)
            {
                throw new InvalidOperationException("late");
            }

            handled.Enqueue(item);
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("obs");

        CollectionAssert.AreEqual(new[] { 2 }, handled.ToArray());
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverHandlerFailed) && e.Exception is InvalidOperationException);
    }

    [TestMethod]
    public async Task Run_HandlerReturnsNullTask_IsAnErrorAndTheJobGoesOn()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handled = new ConcurrentQueue<int>();
        ObserverFunc<int> fn = (int item, CancellationToken _) =>
        {
            handled.Enqueue(item);
            return item == 1 ? null! : Task.CompletedTask;
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("obs");

        CollectionAssert.AreEqual(new[] { 1, 2 }, handled.ToArray());
        LogEntry failed = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverHandlerFailed) && e.Exception is InvalidOperationException);
        Assert.AreEqual("The handler of observer job obs returned a null Task.", failed.Exception!.Message);
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverSourceCompleted) && Equals(e["Count"], 1L));
    }

    [TestMethod]
    public async Task Run_HandlerThrowsWithShutdownOnError_ShutsDownWithTheErrorAndGoesOn()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var error = new InvalidOperationException("fatal");
        var handled = new ConcurrentQueue<int>();
        ObserverFunc<int> fn = (int item, CancellationToken _) =>
        {
            handled.Enqueue(item);
            return item == 1 ? Task.FromException(error) : Task.CompletedTask;
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader, new ObserverOptions { ShutdownOnError = true }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("obs");

        harness.Shutdowner.Verify(s => s.Shutdown(error), Times.Once);
        CollectionAssert.AreEqual(new[] { 1, 2 }, handled.ToArray());
    }

    [TestMethod]
    public async Task Run_SourceFaultsWithShutdownOnError_ReportsFailedThenShutsDownWithTheFault()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var error = new InvalidOperationException("source gone");
        Task<ShutdownCall> shutdown = harness.RecordShutdown();
        harness.Add(Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, channel.Reader, new ObserverOptions { ShutdownOnError = true }));

        await harness.StartAsync();
        channel.Writer.Complete(error);
        await harness.WaitForEndAsync("obs");

        ShutdownCall call = await shutdown.OrTimeout();
        Assert.AreEqual(HealthLevel.Failed, call.LastReport(Scope).Level, "Failed is reported before the shutdown.");
        harness.Shutdowner.Verify(s => s.Shutdown(error), Times.Once);
        HealthStatus scope = harness.Health.Tree.Snapshot().Find(Scope)!;
        Assert.AreEqual(HealthLevel.Failed, scope.Level);
        Assert.AreEqual("Source failed: source gone", scope.Message);
    }

    [TestMethod]
    public async Task Run_ReportsEveryTenSeconds_NotOnlyOnce()
    {
        await using var kit = new JobTestKit();
        var channel = Channel.CreateUnbounded<int>();
        Job job = Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, channel.Reader);
        kit.Add(job);
        await kit.StartAsync();

        for (int i = 1; i <= 3; i++)
        {
            await kit.AdvanceAsync(TimeSpan.FromSeconds(10));
            channel.Writer.TryWrite(i);
            await kit.WaitUntilIdleAsync();

            string message = kit.Health.Snapshot().Find(Scope)!.Message;
            StringAssert.StartsWith(message, "OK (");
            StringAssert.EndsWith(message, $"[{i}]", "Each interval's first item reports.");
        }
    }

    [TestMethod]
    public async Task Run_SourceCompleted_LeavesNoTimerArmed()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        harness.Add(Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, channel.Reader));
        await harness.StartAsync();
        channel.Writer.TryWrite(1);

        channel.Writer.Complete();
        await harness.WaitForEndAsync("obs");

        Assert.AreEqual(0, harness.Time.ArmedTimers, "A job that ended keeps nothing ticking on the clock.");
    }

    [TestMethod]
    public async Task Stop_SourceStillOpen_DoesNotSayTheSourceCompleted()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handled = new TaskCompletionSource();
        ObserverFunc<int> fn = (_, _) =>
        {
            handled.TrySetResult();
            return Task.CompletedTask;
        };
        harness.Add(Job.Observer("obs", fn, channel.Reader));
        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        await handled.OrTimeout();

        await harness.StopAsync();

        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.ObserverSourceCompleted)), "The stop ended the job, not its source.");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == Scope && r.Message.StartsWith("Completed", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task Run_ParallelHandlers_CountEveryItemOnce()
    {
        const int Items = 50_000;
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        for (int i = 0; i < Items; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        harness.Add(Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, channel.Reader, new ObserverOptions { MaxDegreeOfParallelism = 4 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("obs");

        Assert.AreEqual($"Completed [{Items}]", harness.Health.Tree.Snapshot().Find(Scope)!.Message);
    }

    [TestMethod]
    public async Task Run_UnboundedCapacityFromAChannel_TakesEveryItemWhileTheHandlerIsBusy()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handler = new GatedHandler();
        harness.Add(Job.Observer("obs", handler.UntilReleased, channel.Reader, new ObserverOptions { BoundedCapacity = DataflowBlockOptions.Unbounded }));
        await harness.StartAsync();

        for (int i = 0; i < 1000; i++)
        {
            channel.Writer.TryWrite(i);
        }

        await handler.WaitForFirstAsync();
        Assert.IsTrue(SpinWait.SpinUntil(() => channel.Reader.Count == 0, Waits.Timeout), "An unbounded job takes what the source has.");
        handler.Release();
    }

    [TestMethod]
    public async Task Run_Started_ReportsPrimed()
    {
        await using var harness = new GroupHarness();
        harness.Add(Job.Observer("obs", (int _, CancellationToken _) => Task.CompletedTask, Channel.CreateUnbounded<int>().Reader));

        await harness.StartAsync();

        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");
    }

    [TestMethod]
    [DataRow(true, "OK (10s) [2]")]
    [DataRow(false, "OK (1.5s) [3]")]
    public async Task Run_TenSecondsPassed_ReportsOkWithDurationAndCountAtMostEveryTenSeconds(bool metricsRecordDurations, string expected)
    {
        // With durations recorded, every item is timed: the one that ends after the report fell due
        // makes it. Without, the first item that starts after that is timed and makes it.
        var time = new TestTimeProvider();
        var health = new RecordingHealth(time);
        IJobMetrics metrics = metricsRecordDurations ? new Mock<IJobMetrics>().Object : NopJobMetrics.Instance;
        IJobGroup group = new JobRegistry(timeProvider: time, metrics: metrics).NewGroup(health);
        var channel = Channel.CreateUnbounded<int>();
        var fifth = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ObserverFunc<int> fn = (int item, CancellationToken _) =>
        {
            switch (item)
            {
                case 2:
                    // The report falls due while item 2 runs.
                    time.Advance(TimeSpan.FromSeconds(10));
                    break;
                case 3:
                    time.Advance(TimeSpan.FromMilliseconds(1500));
                    break;
                case 5:
                    fifth.SetResult();
                    break;
            }

            return Task.CompletedTask;
        };
        group.Add(Job.Observer("obs", fn, channel.Reader));

        await group.StartAsync(CancellationToken.None);
        await health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");
        for (int i = 1; i <= 5; i++)
        {
            channel.Writer.TryWrite(i);
        }

        await fifth.OrTimeout();

        // Items run one at a time, so item 4 and its (skipped) report are done once item 5 runs.
        HealthReport[] oks = [.. health.Reports.Where(r => r.Path == Scope && r.Message.StartsWith("OK", StringComparison.Ordinal))];
        Assert.HasCount(1, oks);
        Assert.AreEqual(expected, oks[0].Message);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Run_NobodyRecordsDurations_ReadsTheClockOnlyForTheReports()
    {
        var time = new TestTimeProvider();
        var counting = new CountingTimestamps(time);
        IJobGroup group = new JobRegistry(timeProvider: counting).NewGroup(new HealthTree());
        var source = new BufferBlock<int>();
        for (int i = 0; i < 1000; i++)
        {
            source.Post(i);
        }

        source.Complete();
        Job job = Job.Observer("quiet", (int _, CancellationToken _) => Task.CompletedTask, source);
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();

        // No listener, no-op metrics, no report due: a thousand items, and not one clock read.
        Assert.AreEqual(0, counting.Reads);
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public void Options_Default_AreBoundedAndSequential()
    {
        var options = new ObserverOptions();

        Assert.AreEqual(64, options.BoundedCapacity);
        Assert.AreEqual(1, options.MaxDegreeOfParallelism);
        Assert.IsFalse(options.DrainOnStop);
        Assert.IsFalse(options.ShutdownOnError);
    }

    [TestMethod]
    public void Options_MinusOne_MeansUnbounded()
    {
        var options = new ObserverOptions { BoundedCapacity = -1, MaxDegreeOfParallelism = -1 };

        Assert.AreEqual(-1, options.BoundedCapacity);
        Assert.AreEqual(-1, options.MaxDegreeOfParallelism);
    }

    [TestMethod]
    [DataRow(nameof(ObserverOptions.BoundedCapacity), 0)]
    [DataRow(nameof(ObserverOptions.BoundedCapacity), -2)]
    [DataRow(nameof(ObserverOptions.BoundedCapacity), int.MinValue)]
    [DataRow(nameof(ObserverOptions.MaxDegreeOfParallelism), 0)]
    [DataRow(nameof(ObserverOptions.MaxDegreeOfParallelism), -2)]
    [DataRow(nameof(ObserverOptions.MaxDegreeOfParallelism), int.MinValue)]
    public void Options_LimitZeroOrBelowMinusOne_ThrowsNamingIt(string property, int value)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => property == nameof(ObserverOptions.BoundedCapacity)
            ? new ObserverOptions { BoundedCapacity = value }
            : new ObserverOptions { MaxDegreeOfParallelism = value });
        Assert.AreEqual(property, ex.ParamName);
    }

    [TestMethod]
    public void Observer_NullHandler_ThrowsNamingFn()
    {
        var reader = Channel.CreateUnbounded<int>().Reader;
        var observable = new TestObservable<int>();
        var block = new System.Threading.Tasks.Dataflow.BufferBlock<int>();

        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer(name: "obs", fn: null!, source: reader)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer(name: "obs", fn: null!, source: observable)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer(name: "obs", fn: null!, source: block)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer(name: "obs", fn: null!, source: ReadAsync(reader))).ParamName);
    }

    [TestMethod]
    public void Observer_NullSource_ThrowsNamingSource()
    {
        ObserverFunc<int> fn = (_, _) => Task.CompletedTask;

        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer("obs", fn, (ChannelReader<int>)null!)).ParamName);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer("obs", fn, (IObservable<int>)null!)).ParamName);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer("obs", fn, (System.Threading.Tasks.Dataflow.ISourceBlock<int>)null!)).ParamName);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer("obs", fn, (IAsyncEnumerable<int>)null!)).ParamName);
    }

    [TestMethod]
    public void Observer_NullOrEmptyName_Throws()
    {
        ObserverFunc<int> fn = (_, _) => Task.CompletedTask;
        var reader = Channel.CreateUnbounded<int>().Reader;

        Assert.ThrowsExactly<ArgumentNullException>(() => Job.Observer(null!, fn, reader));
        Assert.ThrowsExactly<ArgumentException>(() => Job.Observer(string.Empty, fn, reader));
    }

    [TestMethod]
    public void Observer_Created_HasObserverHealthScope()
    {
        Job job = Job.Observer("a b", (int _, CancellationToken _) => Task.CompletedTask, Channel.CreateUnbounded<int>().Reader);

        Assert.AreEqual("observer-job-" + job.Name, job.HealthScopeName);
    }

    private static async IAsyncEnumerable<int> ReadAsync(ChannelReader<int> reader)
    {
        await foreach (int item in reader.ReadAllAsync())
        {
            yield return item;
        }
    }
}
