using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-39 (rules 6, 8 and 22 for every stage and the dead letter): labels and the
/// job's name on every entry, whichever thread writes it; user code that throws anywhere never
/// escapes nor leaves an unobserved task; throwing collaborators are guarded.
/// </summary>
[TestClass]
public sealed class PipelineSafetyTests
{
    private static readonly Dictionary<string, object?> Labels = new() { ["pipeline"] = "orders" };

    [TestMethod]
    public async Task Run_EntriesWrittenOnStageAndDeadLetterThreads_CarryLabelsAndJobName()
    {
        await using var harness = new GroupHarness(new JobGroupOptions { Labels = Labels });
        var observable = new TestObservable<int>();
        DeadLetterFunc deadLetter = async (_, _) =>
        {
            await Task.Yield();
            throw new IOException("rejects file is gone");
        };
        harness.Add(Job.Pipeline("labelled", observable, new PipelineOptions { DeadLetter = deadLetter })
            .Transform("parse", x => x == 1 ? throw new FormatException("one") : x)
            .Batch("batch", 2)
            .Sink(
                "store",
                async (batch, _) =>
                {
                    await Task.Yield();
                    throw new TimeoutException("store is slow");
                },
                new StageOptions { Retries = 1 }));

        await harness.StartAsync();

        // The test thread pushes: it has no logging scope, so the labels can only come from the group.
        IObserver<int> observer = await observable.WaitForObserverAsync();
        observer.OnNext(1);
        observer.OnNext(2);
        observer.OnNext(3);
        observer.OnError(new EndOfStreamException("feed cut"));
        await harness.WaitForEndAsync("labelled");

        string[] events = [nameof(Log.PipelineItemDeadLettered), nameof(Log.PipelineItemRetrying), nameof(Log.PipelineDeadLetterFailed), nameof(Log.PipelineSourceFailed)];
        foreach (string name in events)
        {
            LogEntry[] entries = [.. harness.Logs.Entries.Where(e => e.EventId.Name == name)];
            Assert.IsNotEmpty(entries, name);
            foreach (LogEntry entry in entries)
            {
                Assert.AreEqual("labelled", entry["JobName"], name);
                Assert.IsTrue(entry.HasScopeField("pipeline", "orders"), $"{name} must be written inside the group's labels scope.");
            }
        }
    }

    [TestMethod]
    public async Task Run_UserCodeThrowsInEveryStageAndTheDeadLetter_NothingEscapesAndNoTaskIsUnobserved()
    {
        Exception[] unobserved = await UnobservedExceptions.LeftByAsync<BoomException>(RunEverythingThrowsAsync);

        Assert.IsEmpty(unobserved, string.Join(Environment.NewLine, unobserved));
    }

    [TestMethod]
    public async Task Run_HealthAndMetricsThrowOnEveryCall_HandlesEveryItemAndCompletes()
    {
        var logs = new LogCapture();
        var metrics = new Mock<IJobMetrics>();
        var down = new InvalidOperationException("sink down");
        metrics.Setup(m => m.PipelineStageDuration(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<TimeSpan>())).Throws(down);
        metrics.Setup(m => m.PipelineStageItems(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<long>())).Throws(down);
        metrics.Setup(m => m.PipelineStageFailed(It.IsAny<string>(), It.IsAny<string>())).Throws(down);
        metrics.Setup(m => m.ObservePipelineStageQueue(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<Func<long>>())).Throws(down);
        metrics.Setup(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>())).Throws(down);
        IJobGroup group = new JobRegistry(logs.Factory, metrics: metrics.Object).NewGroup(new ThrowingHealth());
        var letters = new ConcurrentQueue<DeadLetter>();
        int sunk = 0;
        Job job = Job.Pipeline("p", Enumerable.Range(0, 50).ToAsyncEnumerable(), new PipelineOptions { DeadLetter = PipelineFailureTests.Collect(letters) })
            .Transform("parse", x => x == 7 ? throw new FormatException("seven") : x)
            .Batch("batch", 4)
            .Sink("store", (batch, _) =>
            {
                Interlocked.Add(ref sunk, batch.Length);
                return Task.CompletedTask;
            });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await job.Completion.OrTimeout();

        // The first failure of each collaborator is an error, the others debug entries.
        Assert.AreEqual(1, logs.Entries.Count(e => e.EventId.Name == nameof(Log.MetricsFailed) && e.Level == LogLevel.Error));
        Assert.AreEqual(1, logs.Entries.Count(e => e.EventId.Name == nameof(Log.HealthReportFailed) && e.Level == LogLevel.Error));
        await group.StopAsync(CancellationToken.None).OrTimeout();

        Assert.AreEqual(49, sunk);
        Assert.AreEqual(7, letters.Single().Item);
        LogEntry completed = logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineCompleted));
        Assert.AreEqual(13L, completed["Out"]);
        Assert.IsFalse(logs.Entries.Any(e => e.EventId.Name == nameof(Log.JobCrashed)));
    }

    [TestMethod]
    public async Task Run_ShutdownerThrows_IsLoggedAndThePipelineGoesOn()
    {
        await using var harness = new GroupHarness();
        harness.Shutdowner.Setup(s => s.Shutdown(It.IsAny<Exception?>())).Throws(new InvalidOperationException("host gone"));
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", Enumerable.Range(1, 3).ToAsyncEnumerable(), new PipelineOptions { ShutdownOnError = true, ShutdownWhenComplete = true })
            .Transform("parse", x => x == 2 ? throw new FormatException("two") : x)
            .Sink("store", (item, _) =>
            {
                sunk.Enqueue(item);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 1, 3 }, sunk.ToArray());
        Assert.AreEqual(2, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.ShutdownFailed)));
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [2]");
    }

    [TestMethod]
    public async Task Run_TheSinksBlockFaultsWhileThePumpWaitsOnAFullFirstStage_TheJobEndsAndLogsTheDiscardsThenTheFault()
    {
        // No user code can fault a stage's block (the stages catch everything), so this stands for
        // a bug of the library. The job must still end, although its source never does: the pump,
        // waiting for room in a first stage nobody drains any more, is let go, discards its item
        // and takes nothing more. The count comes first, then the fault, neither lost.
        await using var harness = new GroupHarness();
        var pulls = new PulledItems(int.MaxValue);
        var handler = new GatedHandler();
        var job = (PipelineJob)Job.Pipeline("p", pulls, new PipelineOptions { BoundedCapacity = 4 })
            .Transform("same", (int x) => x)
            .Sink("held", handler.UntilReleased);
        harness.Add(job);

        await harness.StartAsync();
        await handler.WaitForFirstAsync();
        await pulls.WaitForPulledAsync(5 + 5 + 1);
        var bug = new InvalidOperationException("a bug in a block");
        ((IDataflowBlock)job.Stages[^1].Block).Fault(bug);
        handler.Release();
        await job.Completion.OrTimeout();

        // Each block holds its capacity and the item it works on; the pump, one more.
        Assert.IsLessThanOrEqualTo(5 + 5 + 1, pulls.Pulled, "The pump took nothing once the first stage refused its item.");
        List<LogEntry> entries = [.. harness.Logs.Entries];
        int discarded = entries.FindIndex(entry => entry.EventId.Name == nameof(Log.ItemsDiscardedByAFailedBlock));
        int crashed = entries.FindIndex(entry => entry.EventId.Name == nameof(Log.JobCrashed));
        Assert.IsGreaterThanOrEqualTo(0, discarded, "The item in the pump's hand is counted.");
        Assert.AreEqual(1L, entries[discarded]["Count"]);
        Assert.AreEqual(LogLevel.Warning, entries[discarded].Level);
        Assert.IsGreaterThan(discarded, crashed, "The fault is logged after the count.");
        Assert.AreSame(bug, entries[crashed].Exception);
        Assert.IsFalse(entries.Any(entry => entry.EventId.Name == nameof(Log.ItemsDiscarded)), "The group did not stop: no item was discarded for a stop.");
        HealthReport last = harness.Health.Reports.Last(report => report.Path == "pipeline-job-p" && !report.Closed);
        Assert.AreEqual(new HealthReport("pipeline-job-p", HealthLevel.Failed, "Ended by an unexpected error: a bug in a block", bug), last);
    }

    /// <summary>A pipeline whose every stage, and its dead letter, throw for some items in every way they can.</summary>
    private static async Task RunEverythingThrowsAsync()
    {
        await using var harness = new GroupHarness();
        int deadLetters = 0;
        DeadLetterFunc deadLetter = (_, _) =>
            Interlocked.Increment(ref deadLetters) % 2 == 0 ? Task.FromException(new BoomException("dead letter faulted")) : throw new BoomException("dead letter threw");
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", Enumerable.Range(0, 100).ToAsyncEnumerable(), new PipelineOptions { DeadLetter = deadLetter, BoundedCapacity = 4 })
            .Transform("sync", x => x % 10 == 1 ? throw new BoomException("sync") : x)
            .Transform("async", (int x, CancellationToken _) => x % 10 == 2 ? Task.FromException<int>(new BoomException("faulted")) : x % 10 == 3 ? throw new BoomException("threw") : Task.FromResult(x))
            .Transform(
                "retried",
                async (int x, CancellationToken _) =>
                {
                    await Task.Yield();
                    return x % 10 == 4 ? throw new BoomException("late") : x;
                },
                new StageOptions { Retries = 2, MaxDegreeOfParallelism = 2 })
            .TransformMany("many", Expand)
            .Where("where", x => x % 10 == 6 ? throw new BoomException("predicate") : true)
            .Batch("batch", 3)
            .Transform("batches", batch => batch.Any(x => x % 20 == 7) ? throw new BoomException("batch") : batch)
            .Sink("sink", async (batch, _) =>
            {
                await Task.Yield();
                if (batch.Any(x => x % 20 == 8))
                {
                    throw new BoomException("sink");
                }

                foreach (int item in batch)
                {
                    sunk.Enqueue(item);
                }
            }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("p");

        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.JobCrashed)));
        Assert.IsNotEmpty(sunk);
        Assert.IsTrue(sunk.All(x => x % 10 is 0 or 7 or 8 or 9), string.Join(",", sunk));
        Assert.IsGreaterThan(0, deadLetters);
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [");

        static IEnumerable<int> Expand(int x)
        {
            yield return x;
            if (x % 10 == 5)
            {
                throw new BoomException("enumerated");
            }
        }
    }

    /// <summary>An exception only this test throws, to tell its unobserved tasks from any other test's.</summary>
    private sealed class BoomException(string message) : Exception(message);

    /// <summary>A health tree whose every scope throws on every call but NewScope.</summary>
    private sealed class ThrowingHealth : IHealth
    {
        public void Ok(string status) => throw new InvalidOperationException("health down");

        public void Stopped(string reason) => throw new InvalidOperationException("health down");

        public void Degraded(string reason, Exception? error) => throw new InvalidOperationException("health down");

        public void Failed(string reason, Exception? error) => throw new InvalidOperationException("health down");

        public IHealth NewScope(string name) => new ThrowingHealth();

        public void Close() => throw new InvalidOperationException("health down");
    }
}
