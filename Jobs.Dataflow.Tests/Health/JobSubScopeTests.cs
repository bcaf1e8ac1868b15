using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Health;

/// <summary>
/// The scopes a job makes below its own: every level reaches the tree, nested scopes work, and a
/// job's own mistake (a null message, an empty name) throws to the job instead of being logged as
/// the scope's failure.
/// </summary>
[TestClass]
public sealed class JobSubScopeTests
{
    [TestMethod]
    public async Task SubScope_EveryLevel_ReachesTheTreeInOrder()
    {
        await using var harness = new GroupHarness();
        var error = new IOException("disk");
        harness.Add(Job.OneShot("steps", (health, _) =>
        {
            IHealth step = health.NewScope("step");
            step.Ok("ok");
            step.Stopped("stopped");
            step.Degraded("degraded", error);
            step.Failed("failed", error);
            step.NewScope("inner").Ok("nested");
            return Task.CompletedTask;
        }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("steps");

        (HealthLevel, string, Exception?)[] reports = [.. harness.Health.Reports
            .Where(r => r.Path == "job-steps/step" && !r.Closed)
            .Select(r => (r.Level, r.Message, r.Error))];
        CollectionAssert.AreEqual(
            new (HealthLevel, string, Exception?)[]
            {
                (HealthLevel.Ok, "ok", null),
                (HealthLevel.Stopped, "stopped", null),
                (HealthLevel.Degraded, "degraded", error),
                (HealthLevel.Failed, "failed", error),
            },
            reports);
        Assert.IsTrue(harness.Health.Reports.Any(r => r.Path == "job-steps/step/inner" && r.Message == "nested"));
    }

    [TestMethod]
    public async Task SubScope_NullMessageOrEmptyName_ThrowsToTheJobNamingIt()
    {
        await using var harness = new GroupHarness();
        var made = new TaskCompletionSource<IHealth>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        harness.Add(Job.OneShot("careless", (health, _) =>
        {
            made.SetResult(health.NewScope("step"));
            return release.Task;
        }));
        await harness.StartAsync();
        IHealth step = await made.OrTimeout();

        Assert.AreEqual("status", Assert.ThrowsExactly<ArgumentNullException>(() => step.Ok(null!)).ParamName);
        Assert.AreEqual("reason", Assert.ThrowsExactly<ArgumentNullException>(() => step.Stopped(null!)).ParamName);
        Assert.AreEqual("reason", Assert.ThrowsExactly<ArgumentNullException>(() => step.Degraded(null!, null)).ParamName);
        Assert.AreEqual("reason", Assert.ThrowsExactly<ArgumentNullException>(() => step.Failed(null!, null)).ParamName);
        Assert.AreEqual("name", Assert.ThrowsExactly<ArgumentException>(() => step.NewScope(string.Empty)).ParamName);

        release.SetResult();
        await harness.WaitForEndAsync("careless");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.HealthReportFailed)), "A caller's mistake is not the scope's failure.");
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == "job-careless/step" && !r.Closed), "Nothing was reported.");
    }

    [TestMethod]
    public async Task OwnScope_NullMessageOrEmptyName_ThrowsToTheJobNamingIt()
    {
        // The same for the job's own scope, the health its function is handed.
        await using var harness = new GroupHarness();
        var handed = new TaskCompletionSource<IHealth>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        harness.Add(Job.OneShot("careless", (health, _) =>
        {
            handed.SetResult(health);
            return release.Task;
        }));
        await harness.StartAsync();
        IHealth own = await handed.OrTimeout();

        Assert.AreEqual("status", Assert.ThrowsExactly<ArgumentNullException>(() => own.Ok(null!)).ParamName);
        Assert.AreEqual("reason", Assert.ThrowsExactly<ArgumentNullException>(() => own.Stopped(null!)).ParamName);
        Assert.AreEqual("reason", Assert.ThrowsExactly<ArgumentNullException>(() => own.Degraded(null!, null)).ParamName);
        Assert.AreEqual("reason", Assert.ThrowsExactly<ArgumentNullException>(() => own.Failed(null!, null)).ParamName);
        Assert.AreEqual("name", Assert.ThrowsExactly<ArgumentException>(() => own.NewScope(string.Empty)).ParamName);

        release.SetResult();
        await harness.WaitForEndAsync("careless");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.HealthReportFailed)), "A caller's mistake is not the scope's failure.");
    }
}
