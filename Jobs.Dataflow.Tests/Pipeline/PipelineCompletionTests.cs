using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-35 and #rule-36: a source that ends completes every stage in order and
/// ends the job once the sink has handled every item; a source that faults still lets the items
/// already taken through, then fails the job.
/// </summary>
[TestClass]
public sealed class PipelineCompletionTests
{
    private const string Scope = "pipeline-job-p";

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Run_SourceCompletes_CompletesEveryStageAndReportsTheSinksCount(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var sunk = new ConcurrentQueue<int>();
        harness.Add(source.Pipeline("p")
            .Where("odd", x => x % 2 == 1)
            .Transform("same", x => x)
            .Sink("collect", (item, _) =>
            {
                if (item == 5)
                {
                    throw new FormatException("five");
                }

                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3, 4, 5, 6);
        await source.CompleteAsync();
        await harness.WaitForEndAsync("p");

        // COUNT is what the sink handled without error: 1 and 3, not 5.
        CollectionAssert.AreEqual(new[] { 1, 3 }, sunk.ToArray());
        Assert.AreEqual(HealthLevel.Stopped, harness.Health.Reports.Last(r => r.Path == Scope).Level);
        Assert.AreEqual("Completed [2]", harness.Health.Reports.Last(r => r.Path == Scope).Message);
        Assert.AreEqual("Completed [out 3, failed 0]", LastMessage(harness, Scope + "/stage-odd"));
        Assert.AreEqual("Completed [out 3, failed 0]", LastMessage(harness, Scope + "/stage-same"));
        Assert.AreEqual("Completed [out 2, failed 1]", LastMessage(harness, Scope + "/stage-collect"));
        LogEntry completed = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineCompleted));
        Assert.AreEqual(LogLevel.Information, completed.Level);
        Assert.AreEqual("p", completed["JobName"]);
        Assert.AreEqual(6L, completed["In"]);
        Assert.AreEqual(2L, completed["Out"]);
        Assert.AreEqual(1L, completed["Failed"]);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name is nameof(Log.ItemsDiscarded) or nameof(Log.DrainCutShort)));
    }

    [TestMethod]
    public async Task Run_SourceCompletesWhileTheSinkWorks_EndsOnlyOnceTheSinkHandledEveryItem()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var handler = new GatedHandler();
        Job job = Job.Pipeline("p", channel.Reader).Transform("same", x => x).Sink("collect", handler.UntilReleased);
        harness.Add(job);

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await handler.WaitForFirstAsync();
        await channel.Reader.Completion.OrTimeout();

        Assert.IsFalse(job.Completion.IsCompleted, "The job ended while the sink still had items.");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == Scope && r.Level == HealthLevel.Stopped));
        handler.Release();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { (1, false), (2, false), (3, false) }, handler.Finished.ToArray());
        await harness.Health.WaitForAsync(Scope, HealthLevel.Stopped, "Completed [3]");
    }

    [TestMethod]
    public async Task Run_SourceCompletesWithAPartialBatch_LeavesNoTimerArmed()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int[]>();
        harness.Add(Job.Pipeline("p", channel.Reader)
            .Batch("batch", 10, TimeSpan.FromMinutes(1))
            .Sink("collect", (int[] batch, CancellationToken _) =>
            {
                sunk.Enqueue(batch);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        Assert.HasCount(1, sunk);
        Assert.AreEqual(0, harness.Time.ArmedTimers, "A pipeline that ended keeps neither its report timer nor a batch delay ticking on the clock.");
    }

    [TestMethod]
    public async Task Run_SourceCompletesWithADeadLetterPending_EndsOnlyOnceTheDeadLetterReturned()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var inDeadLetter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var twoSunk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int delivered = 0;
        DeadLetterFunc deadLetter = async (_, _) =>
        {
            inDeadLetter.TrySetResult();
            await release.Task;
            Interlocked.Increment(ref delivered);
        };
        Job job = Job.Pipeline("p", channel.Reader, new PipelineOptions { DeadLetter = deadLetter })
            .Transform("bad", x => x == 1 ? throw new FormatException("one") : x)
            .Sink("collect", (_, _) =>
            {
                twoSunk.SetResult();
                return Task.CompletedTask;
            });
        harness.Add(job);

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await inDeadLetter.OrTimeout();
        await twoSunk.OrTimeout();
        await channel.Reader.Completion.OrTimeout();

        Assert.IsFalse(job.Completion.IsCompleted, "The job ended before its dead letter returned.");
        release.SetResult();
        await harness.WaitForEndAsync("p");
        Assert.AreEqual(1, delivered);
        await harness.Health.WaitForAsync(Scope, HealthLevel.Stopped, "Completed [1]");
    }

    [TestMethod]
    public async Task Run_ShutdownWhenComplete_ShutsDownWithoutAnErrorOnceEveryItemIsHandled()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        int sunk = 0;
        int sunkAtShutdown = -1;
        var shutdown = new TaskCompletionSource<IReadOnlyList<HealthReport>>(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Shutdowner.Setup(s => s.Shutdown(It.IsAny<Exception?>())).Callback(() =>
        {
            sunkAtShutdown = Volatile.Read(ref sunk);
            shutdown.TrySetResult(harness.Health.Reports);
        });
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { ShutdownWhenComplete = true })
            .Batch("batch", 2)
            .Sink("collect", async (batch, _) =>
            {
                await Task.Yield();
                Interlocked.Add(ref sunk, batch.Length);
            }));

        await harness.StartAsync();
        for (int i = 0; i < 5; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        harness.Shutdowner.Verify(s => s.Shutdown(null), Times.Once);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Once);
        Assert.AreEqual(5, sunkAtShutdown, "The shutdown came before the last (partial) batch was handled.");
        HealthReport before = (await shutdown.OrTimeout()).Last(r => r.Path == Scope && !r.Closed);
        Assert.AreEqual(new HealthReport(Scope, HealthLevel.Stopped, "Completed [3]", null), before, "Stopped is reported before the shutdown.");
        await harness.Health.WaitForAsync(Scope, HealthLevel.Stopped, "Completed [3]");
        Assert.AreEqual(LogLevel.Information, harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.CompletedShutdownRequested)).Level);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.ShutdownRequested)), "A pipeline that completed did not give up.");
    }

    [TestMethod]
    public async Task StopAsync_ShutdownWhenComplete_NeverShutsDown()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { ShutdownWhenComplete = true }).Sink("collect", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        await harness.Health.WaitForAsync(Scope, HealthLevel.Ok, "Primed");
        await harness.StopAsync();

        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == Scope && r.Level == HealthLevel.Stopped), "A stopped pipeline did not complete.");
    }

    [TestMethod]
    [DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]
    public async Task Run_SourceFaults_HandlesTheTakenItemsThenLogsCountsAndFails(SourceKind kind)
    {
        await using var harness = new GroupHarness();
        var source = new TestSource(kind);
        var handler = new GatedHandler();
        var fault = new IOException("connection reset");
        Job job = source.Pipeline("p").Transform("same", x => x).Sink("collect", handler.UntilReleased);
        harness.Add(job);

        await harness.StartAsync();
        await source.WriteAsync(1, 2, 3);
        await handler.WaitForFirstAsync();
        await source.CompleteAsync(fault);

        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == Scope && r.Level == HealthLevel.Failed), "The job failed before the taken items were handled.");
        handler.Release();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, handler.FinishedItems);
        HealthReport failed = harness.Health.Reports.Last(r => r.Path == Scope);
        Assert.AreEqual(HealthLevel.Failed, failed.Level);
        Assert.AreSame(fault, failed.Error);
        StringAssert.Contains(failed.Message, fault.Message);
        LogEntry log = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineSourceFailed));
        Assert.AreEqual(LogLevel.Error, log.Level);
        Assert.AreEqual("p", log["JobName"]);
        Assert.AreEqual(3L, log["In"]);
        Assert.AreSame(fault, log.Exception);
        harness.Metrics.Verify(m => m.JobError("p", fault), Times.Once);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.PipelineCompleted)));
    }

    [TestMethod]
    public async Task Run_SourceFaultsWithShutdownOnError_ReportsFailedThenShutsDownWithTheFault()
    {
        await using var harness = new GroupHarness();
        var stream = new SteppedStream();
        var fault = new IOException("disk gone");
        Task<ShutdownCall> shutdown = harness.RecordShutdown();
        harness.Add(Job.Pipeline("p", stream, new PipelineOptions { ShutdownOnError = true, ShutdownWhenComplete = true })
            .Sink("collect", (_, _) => Task.CompletedTask));

        await harness.StartAsync();
        stream.Write(1);
        stream.Complete(fault);
        await harness.WaitForEndAsync("p");

        ShutdownCall call = await shutdown.OrTimeout();
        Assert.AreEqual(HealthLevel.Failed, call.LastReport(Scope).Level, "Failed is reported before the shutdown.");
        harness.Shutdowner.Verify(s => s.Shutdown(fault), Times.Once);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Once);
        await harness.Health.WaitForAsync(Scope, HealthLevel.Failed);
    }

    private static string LastMessage(GroupHarness harness, string path) => harness.Health.Reports.Last(r => r.Path == path && !r.Closed).Message;
}
