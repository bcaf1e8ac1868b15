using Jobs.Dataflow.Tests.TestUtilities;
using Moq;

namespace Jobs.Dataflow.Tests.OneShot;

/// <summary>What a one-shot job says when it fails, counts its retries and gives up.</summary>
[TestClass]
public sealed class OneShotGiveUpTests
{
    [TestMethod]
    public async Task Run_NoRetries_GivesUpAfterOneAttempt()
    {
        await using var harness = new GroupHarness();
        harness.Add(Job.OneShot("once", (_, _) => throw new InvalidOperationException("boom"), new OneShotOptions { Retries = 0 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("once");

        HealthReport last = harness.Health.Reports.Last(r => r.Path == "job-once");
        Assert.AreEqual(HealthLevel.Failed, last.Level);
        Assert.AreEqual("Gave up after 1 attempt: boom", last.Message);
    }

    [TestMethod]
    public async Task Run_EveryAttemptFails_LogsHowManyRetriesAreLeft()
    {
        await using var harness = new GroupHarness();
        harness.Add(Job.OneShot("flaky", (_, _) => throw new IOException("down"), new OneShotOptions { Retries = 2 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("flaky");

        string[] failures = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.OneShotFailed)).Select(e => e.Message)];
        CollectionAssert.AreEqual(
            new[]
            {
                "Job flaky failed on attempt 1; retries left: 2",
                "Job flaky failed on attempt 2; retries left: 1",
                "Job flaky failed on attempt 3; retries left: 0",
            },
            failures);
    }

    [TestMethod]
    public async Task Run_BackoffThrows_GivesUpWithTheBackoffsError()
    {
        await using var harness = new GroupHarness();
        var backoffError = new ArgumentException("no delay for you");
        var backoff = new Mock<IRetryBackoff>();
        backoff.Setup(b => b.GetDelay(It.IsAny<int>())).Throws(backoffError);
        harness.Add(Job.OneShot("retried", (_, _) => throw new IOException("down"), new OneShotOptions { Retries = 3, Backoff = backoff.Object }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("retried");

        HealthReport last = harness.Health.Reports.Last(r => r.Path == "job-retried");
        Assert.AreEqual(HealthLevel.Failed, last.Level);
        Assert.AreEqual("Gave up: its backoff threw: no delay for you", last.Message);
        Assert.AreSame(backoffError, last.Error);
    }

    [TestMethod]
    public async Task Run_AttemptEndsWithinItsTimeout_LeavesNoTimerAndNeverTimesOutLater()
    {
        await using var harness = new GroupHarness();
        harness.Add(Job.OneShot("quick", (_, _) => Task.CompletedTask, new OneShotOptions { AttemptTimeout = TimeSpan.FromSeconds(5) }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("quick");
        Assert.AreEqual(0, harness.Time.ArmedTimers, "The attempt's timeout timer is disposed with the attempt.");
        harness.Time.Advance(TimeSpan.FromMinutes(1));

        Assert.AreEqual("Finished (0µs)", harness.Health.Reports.Last(r => r.Path == "job-quick").Message);
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.RunTimedOut)), "No timeout is logged for an attempt that ended.");
    }
}
