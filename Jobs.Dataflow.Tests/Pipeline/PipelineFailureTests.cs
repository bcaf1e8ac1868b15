using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Pipeline;

/// <summary>
/// docs/behaviour.md#rule-33: an item that fails in any stage is retried as the stage says, then
/// logged, counted once, reported <c>Degraded</c> on its stage and dead-lettered; the pipeline goes
/// on with the next item, whatever the dead letter does.
/// </summary>
[TestClass]
public sealed class PipelineFailureTests
{
    private const string Stage = "pipeline-job-p/stage-bad";

    /// <summary>Gets every way a stage can fail an item: each kind of stage, throwing, faulting, or returning a null task.</summary>
    public static IEnumerable<object[]> Kinds =>
        new[] { "transform", "transform-async", "transform-null", "many", "many-null", "where", "sink", "sink-async", "sink-null" }.Select(kind => new object[] { kind });

    [TestMethod]
    [DynamicData(nameof(Kinds))]
    public async Task Stage_ItemFailsForGood_LogsCountsOnceDegradesDeadLettersAndGoesOn(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var error = new FormatException("bad record");
        var sunk = new ConcurrentQueue<int>();
        var letters = new ConcurrentQueue<DeadLetter>();
        var options = new PipelineOptions { DeadLetter = Collect(letters) };
        harness.Add(Build(kind, channel.Reader, x => x == 2 ? error : null, sunk, options));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 1, 3 }, sunk.ToArray());
        Func<Exception?, bool> isTheError = kind.EndsWith("-null", StringComparison.Ordinal)
            ? e => e is InvalidOperationException && e.Message.Contains("null", StringComparison.Ordinal) && e.Message.Contains("bad", StringComparison.Ordinal)
            : e => ReferenceEquals(e, error);

        // Handed to a dead letter, the item took the path the user planned for it: a warning, not an error.
        LogEntry log = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered));
        Assert.AreEqual(LogLevel.Warning, log.Level);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.PipelineItemFailed)));
        Assert.AreEqual("p", log["JobName"]);
        Assert.AreEqual("bad", log["Stage"]);
        Assert.AreEqual(1, log["Attempts"]);
        Assert.IsTrue(isTheError(log.Exception), $"logged: {log.Exception}");
        harness.Metrics.Verify(m => m.JobError("p", It.Is<Exception>(e => isTheError(e))), Times.Once);
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Once);
        harness.Metrics.Verify(m => m.PipelineStageFailed("p", "bad"), Times.Once);
        HealthReport degraded = harness.Health.Reports.First(r => r.Path == Stage && r.Level == HealthLevel.Degraded);
        Assert.IsTrue(isTheError(degraded.Error));
        StringAssert.StartsWith(degraded.Message, "Item failed: ");

        // The stage ends still degraded: its last word keeps the failure in sight.
        HealthReport last = harness.Health.Reports.Last(r => r.Path == Stage);
        Assert.AreEqual(HealthLevel.Degraded, last.Level);
        StringAssert.Contains(last.Message, "failed 1]");
        DeadLetter letter = letters.Single();
        Assert.AreEqual("bad", letter.Stage);
        Assert.AreEqual(2, letter.Item);
        Assert.IsTrue(isTheError(letter.Error));
        Assert.AreEqual(1, letter.Attempts);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == "pipeline-job-p" && r.Level is HealthLevel.Degraded or HealthLevel.Failed), "An item's failure is its stage's, not the job's.");
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [2]");
    }

    [TestMethod]
    [DynamicData(nameof(Kinds))]
    public async Task Stage_ItemFailsForGoodWithoutADeadLetter_LogsAnErrorAndGoesOn(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var error = new FormatException("bad record");
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Build(kind, channel.Reader, x => x == 2 ? error : null, sunk, options: null));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        // Nobody planned for the item: it is lost to the pipeline, and the log says so as an error.
        CollectionAssert.AreEqual(new[] { 1, 3 }, sunk.ToArray());
        LogEntry log = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineItemFailed));
        Assert.AreEqual(LogLevel.Error, log.Level);
        Assert.AreEqual("p", log["JobName"]);
        Assert.AreEqual("bad", log["Stage"]);
        Assert.IsNotNull(log.Exception);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered)));
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Once);
    }

    [TestMethod]
    [DynamicData(nameof(Kinds))]
    public async Task Stage_RetriesWithBackoff_RetriesOnTheGroupsClockThenFailsForGoodOnce(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var error = new TimeoutException("flaky");
        var attempts = new SemaphoreSlim(0);
        int attemptCount = 0;
        var letters = new ConcurrentQueue<DeadLetter>();
        var sunk = new ConcurrentQueue<int>();
        var options = new PipelineOptions { DeadLetter = Collect(letters) };
        var stageOptions = new StageOptions { Retries = 2, Backoff = new ConstantBackoff(TimeSpan.FromSeconds(5)) };
        harness.Add(Build(
            kind,
            channel.Reader,
            _ =>
            {
                Interlocked.Increment(ref attemptCount);
                attempts.Release();
                return error;
            },
            sunk,
            options,
            stageOptions));

        await harness.StartAsync();
        await harness.Time.WaitForTimerAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.Complete();

        for (int attempt = 1; attempt <= 2; attempt++)
        {
            // Each retry waits the backoff on the group's clock, not a moment less.
            await attempts.WaitOrTimeout();
            await harness.Time.WaitForTimerAsync();
            harness.Time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
            Assert.AreEqual(attempt, Volatile.Read(ref attemptCount), $"retry {attempt} came before its backoff");
            harness.Time.Advance(TimeSpan.FromTicks(1));
        }

        await attempts.WaitOrTimeout();
        await harness.WaitForEndAsync("p");

        Assert.AreEqual(3, attemptCount);
        Assert.IsEmpty(sunk);
        LogEntry[] retries = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.PipelineItemRetrying))];
        CollectionAssert.AreEqual(new object[] { 1, 2 }, retries.Select(e => e["Attempt"]).ToArray());
        Assert.IsTrue(retries.All(e => e.Level == LogLevel.Debug && Equals(e["Stage"], "bad") && Equals(e["JobName"], "p")));
        LogEntry failed = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered));
        Assert.AreEqual(3, failed["Attempts"]);
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Once);
        harness.Metrics.Verify(m => m.PipelineStageFailed("p", "bad"), Times.Once);
        DeadLetter letter = letters.Single();
        Assert.AreEqual(3, letter.Attempts);
        Assert.AreEqual(1, letter.Item);
    }

    [TestMethod]
    [DynamicData(nameof(Kinds))]
    public async Task Stage_RecoversOnARetry_IsNeitherAnErrorNorADeadLetter(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var letters = new ConcurrentQueue<DeadLetter>();
        var sunk = new ConcurrentQueue<int>();
        int attempts = 0;
        harness.Add(Build(
            kind,
            channel.Reader,
            _ => Interlocked.Increment(ref attempts) == 1 ? new IOException("once") : null,
            sunk,
            new PipelineOptions { DeadLetter = Collect(letters), ShutdownOnError = true },
            new StageOptions { Retries = 1 }));

        await harness.StartAsync();
        channel.Writer.TryWrite(7);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 7 }, sunk.ToArray());
        Assert.AreEqual(2, attempts);
        Assert.IsEmpty(letters);
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Level == HealthLevel.Degraded));
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name is nameof(Log.PipelineItemFailed) or nameof(Log.PipelineItemDeadLettered)));
    }

    [TestMethod]
    public async Task Stage_RetriesForeverWithoutBackoff_KeepsRetryingUntilItRecovers()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        int attempts = 0;
        harness.Add(Build(
            "transform",
            channel.Reader,
            _ => Interlocked.Increment(ref attempts) < 1000 ? new IOException("not yet") : null,
            sunk,
            options: null,
            new StageOptions { Retries = -1 }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 1 }, sunk.ToArray());
        Assert.AreEqual(1000, attempts);
        harness.Metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never);
    }

    [TestMethod]
    public async Task Stage_BackoffThrows_FailsTheItemForGoodWithTheBackoffsError()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var backoffError = new NotSupportedException("no delay for you");
        var backoff = new Mock<IRetryBackoff>();
        backoff.Setup(b => b.GetDelay(It.IsAny<int>())).Throws(backoffError);
        var letters = new ConcurrentQueue<DeadLetter>();
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Build(
            "transform",
            channel.Reader,
            x => x == 1 ? new IOException("first") : null,
            sunk,
            new PipelineOptions { DeadLetter = Collect(letters) },
            new StageOptions { Retries = 5, Backoff = backoff.Object }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 2 }, sunk.ToArray());
        Assert.AreSame(backoffError, letters.Single().Error);
        Assert.AreSame(backoffError, harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineItemDeadLettered)).Exception);
        harness.Metrics.Verify(m => m.JobError("p", backoffError), Times.Once);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task DeadLetter_Throws_IsLoggedAndThePipelineGoesOn(bool asynchronously)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var deadLetterError = new IOException("rejects file is gone");
        var sunk = new ConcurrentQueue<int>();
        DeadLetterFunc deadLetter = asynchronously
            ? async (_, _) =>
            {
                await Task.Yield();
                throw deadLetterError;
            }
            : (_, _) => throw deadLetterError;
        harness.Add(Build("transform", channel.Reader, x => x % 2 == 0 ? new FormatException("even") : null, sunk, new PipelineOptions { DeadLetter = deadLetter }));

        await harness.StartAsync();
        for (int i = 1; i <= 5; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 1, 3, 5 }, sunk.ToArray());
        LogEntry[] logs = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.PipelineDeadLetterFailed))];
        Assert.HasCount(2, logs);
        Assert.IsTrue(logs.All(e => e.Level == LogLevel.Error && ReferenceEquals(e.Exception, deadLetterError) && Equals(e["JobName"], "p") && Equals(e["Stage"], "bad")));
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [3]");
    }

    [TestMethod]
    public async Task DeadLetter_ReturnsNullTask_IsLoggedAsItsFailureAndThePipelineGoesOn()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var sunk = new ConcurrentQueue<int>();
        int letters = 0;
        DeadLetterFunc deadLetter = (_, _) =>
        {
            Interlocked.Increment(ref letters);
            return null!;
        };
        harness.Add(Build("transform", channel.Reader, x => x == 1 ? new FormatException("one") : null, sunk, new PipelineOptions { DeadLetter = deadLetter }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        Assert.AreEqual(1, letters);
        CollectionAssert.AreEqual(new[] { 2 }, sunk.ToArray());
        LogEntry log = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.PipelineDeadLetterFailed));
        Assert.IsInstanceOfType<InvalidOperationException>(log.Exception);
        StringAssert.Contains(log.Exception!.Message, "null Task");
        await harness.Health.WaitForAsync("pipeline-job-p", HealthLevel.Stopped, "Completed [1]");
    }

    [TestMethod]
    [DataRow("transform")]
    [DataRow("sink-async")]
    public async Task Stage_ShutdownOnError_ShutsDownWithTheErrorAndGoesOn(string kind)
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var error = new InvalidDataException("fatal record");
        var sunk = new ConcurrentQueue<int>();
        harness.Add(Build(kind, channel.Reader, x => x == 1 ? error : null, sunk, new PipelineOptions { ShutdownOnError = true }));

        await harness.StartAsync();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        harness.Shutdowner.Verify(s => s.Shutdown(error), Times.Once);
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Once);
        CollectionAssert.AreEqual(new[] { 2 }, sunk.ToArray());
    }

    [TestMethod]
    public async Task Stage_FailsAfterABatch_DeadLettersTheWholeBatch()
    {
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        var letters = new ConcurrentQueue<DeadLetter>();
        var sums = new ConcurrentQueue<int>();
        harness.Add(Job.Pipeline("p", channel.Reader, new PipelineOptions { DeadLetter = Collect(letters) })
            .Batch("batch", 2)
            .Transform("sum", batch => batch.Contains(3) ? throw new OverflowException("three") : batch.Sum())
            .Sink("collect", (sum, _) =>
            {
                sums.Enqueue(sum);
                return Task.CompletedTask;
            }));

        await harness.StartAsync();
        for (int i = 1; i <= 6; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await harness.WaitForEndAsync("p");

        CollectionAssert.AreEqual(new[] { 3, 11 }, sums.ToArray());
        DeadLetter letter = letters.Single();
        Assert.AreEqual("sum", letter.Stage);
        CollectionAssert.AreEqual(new[] { 3, 4 }, (int[])letter.Item!);
    }

    /// <summary>A dead letter that keeps every letter it gets.</summary>
    internal static DeadLetterFunc Collect(ConcurrentQueue<DeadLetter> letters) => (letter, _) =>
    {
        letters.Enqueue(letter);
        return Task.CompletedTask;
    };

    /// <summary>
    /// A pipeline with one stage named <c>bad</c> of the given kind; <paramref name="attempt"/> runs
    /// for each attempt at an item and returns the error to fail it with, or null to let it through.
    /// The items that reach the end of the pipeline go to <paramref name="sunk"/>.
    /// </summary>
    private static Job Build(string kind, ChannelReader<int> reader, Func<int, Exception?> attempt, ConcurrentQueue<int> sunk, PipelineOptions? options = null, StageOptions? stageOptions = null)
    {
        Pipeline<int> pipeline = Job.Pipeline("p", reader, options);
        ObserverFunc<int> collect = (item, _) =>
        {
            sunk.Enqueue(item);
            return Task.CompletedTask;
        };

        return kind switch
        {
            "transform" => pipeline.Transform("bad", x => attempt(x) is { } e ? throw e : x, stageOptions).Sink("collect", collect),
            "transform-async" => pipeline.Transform("bad", (int x, CancellationToken _) => attempt(x) is { } e ? Task.FromException<int>(e) : Task.FromResult(x), stageOptions).Sink("collect", collect),
            "transform-null" => pipeline.Transform("bad", (int x, CancellationToken _) => attempt(x) is null ? Task.FromResult(x) : null!, stageOptions).Sink("collect", collect),
            "many" => pipeline.TransformMany("bad", x => attempt(x) is { } e ? throw e : new[] { x }, stageOptions).Sink("collect", collect),
            "many-null" => pipeline.TransformMany("bad", x => attempt(x) is null ? new[] { x } : null!, stageOptions).Sink("collect", collect),
            "where" => pipeline.Where("bad", x => attempt(x) is { } e ? throw e : true, stageOptions).Sink("collect", collect),
            "sink" => pipeline.Sink(
                "bad",
                (x, _) =>
                {
                    if (attempt(x) is { } e)
                    {
                        throw e;
                    }

                    sunk.Enqueue(x);
                    return Task.CompletedTask;
                },
                stageOptions),
            "sink-async" => pipeline.Sink(
                "bad",
                async (x, _) =>
                {
                    await Task.Yield();
                    if (attempt(x) is { } e)
                    {
                        throw e;
                    }

                    sunk.Enqueue(x);
                },
                stageOptions),
            "sink-null" => pipeline.Sink(
                "bad",
                (x, _) =>
                {
                    if (attempt(x) is not null)
                    {
                        return null!;
                    }

                    sunk.Enqueue(x);
                    return Task.CompletedTask;
                },
                stageOptions),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown kind of stage"),
        };
    }
}
