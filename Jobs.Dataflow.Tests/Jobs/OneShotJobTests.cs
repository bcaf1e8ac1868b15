using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Jobs;

[TestClass]
public sealed class OneShotJobTests
{
    [TestMethod]
    public async Task Run_FunctionReturns_ReportsRunningThenFinished()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        harness.Group.Add(Job.OneShot("work", async (_, _) => await release.Task));

        await harness.StartAsync();
        await harness.Health.WaitForAsync("job-work", HealthLevel.Ok, "Running");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Message.StartsWith("Finished", StringComparison.Ordinal)));

        release.SetResult();
        HealthReport finished = await harness.Health.WaitForAsync("job-work", HealthLevel.Ok, "Finished (");

        StringAssert.EndsWith(finished.Message, ")");
        harness.Metrics.Verify(m => m.OneShotRunDuration("work", It.IsAny<TimeSpan>()), Times.Once);
    }

    [TestMethod]
    public async Task Run_FunctionTakesTime_ReportsDurationFromTimeProvider()
    {
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        harness.Group.Add(Job.OneShot("work", async (_, _) =>
        {
            started.SetResult();
            await release.Task;
        }));

        await harness.StartAsync();
        await started.OrTimeout();
        harness.Time.Advance(TimeSpan.FromMilliseconds(1500));
        release.SetResult();

        HealthReport finished = await harness.Health.WaitForAsync("job-work", HealthLevel.Ok, "Finished (");
        Assert.AreEqual("Finished (1.5s)", finished.Message);
        harness.Metrics.Verify(m => m.OneShotRunDuration("work", TimeSpan.FromMilliseconds(1500)), Times.Once);
    }

    [TestMethod]
    public async Task Run_FunctionThrowsWithRetries_RunsOncePlusRetries()
    {
        await using var harness = new GroupHarness();
        int runs = 0;
        OneShotFunc fn = (_, _) =>
        {
            Interlocked.Increment(ref runs);
            throw new InvalidOperationException("boom");
        };
        harness.Group.Add(Job.OneShot("flaky", fn, new OneShotOptions { Retries = 3 }));

        await harness.StartAsync();
        await harness.Logs.WaitForAsync(e => e.EventId.Id == 20 && (int)e["Attempt"]! == 4);

        await harness.StopAsync();
        Assert.AreEqual(4, runs);
        harness.Metrics.Verify(m => m.JobError("flaky", It.IsAny<InvalidOperationException>()), Times.Exactly(4));
        harness.Shutdowner.Verify(s => s.Shutdown(It.IsAny<Exception?>()), Times.Never);
    }
}
