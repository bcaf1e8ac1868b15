using Jobs.Dataflow.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using CheckStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus;

namespace Jobs.Dataflow.Tests.Hosting;

[TestClass]
public sealed class JobsHealthCheckTests
{
    [TestMethod]
    public async Task Check_StoppedAndUnknownScopes_AreHealthy()
    {
        var tree = new HealthTree();
        tree.NewScope("finished").Stopped("done");
        tree.NewScope("quiet");
        tree.NewScope("working").Ok("fine");

        HealthReport report = await CheckAsync(tree);

        Assert.AreEqual(CheckStatus.Healthy, report.Status);
        Assert.IsEmpty(report.Entries["jobs"].Data);
    }

    [TestMethod]
    public async Task Check_NestedDegradedScope_IsDegradedWithItsPathMessageAndError()
    {
        var tree = new HealthTree();
        var error = new TimeoutException("db slow");
        tree.NewScope("sync").NewScope("job-pull").Degraded("Failed on attempt 2: db slow", error);
        tree.NewScope("other").Ok("fine");

        HealthReport report = await CheckAsync(tree);

        HealthReportEntry entry = report.Entries["jobs"];
        Assert.AreEqual(CheckStatus.Degraded, report.Status);
        Assert.AreSame(error, entry.Exception);
        Assert.AreEqual("Failed on attempt 2: db slow (TimeoutException: db slow)", entry.Data["root/sync/job-pull"]);
        Assert.HasCount(1, entry.Data);
    }

    [TestMethod]
    public async Task Check_CallerRegisteredTheirOwnTree_ReadsThatTree()
    {
        var own = new HealthTree("mine");
        own.NewScope("x").Degraded("broken", null);
        ServiceCollection services = new();
        services.AddLogging().AddSingleton<IHealth>(own).AddHealthChecks().AddJobsHealthCheck();
        using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.AreEqual(CheckStatus.Degraded, report.Status);
        Assert.IsTrue(report.Entries["jobs"].Data.ContainsKey("mine/x"));
    }

    [TestMethod]
    public async Task Check_AFailedScope_IsUnhealthyWithItsPathAndError()
    {
        var tree = new HealthTree();
        var error = new IOException("disk gone");
        IHealth group = tree.NewScope("etl");
        group.NewScope("job-load").Failed("Gave up after 4 attempts: disk gone", error);
        group.NewScope("observer-job-read").Degraded("Handler failed: bad row", null);

        HealthReport report = await CheckAsync(tree);

        HealthReportEntry entry = report.Entries["jobs"];
        Assert.AreEqual(CheckStatus.Unhealthy, report.Status);
        Assert.AreSame(error, entry.Exception);
        Assert.AreEqual("Failed: Gave up after 4 attempts: disk gone (IOException: disk gone)", entry.Data["root/etl/job-load"]);
        Assert.AreEqual("Handler failed: bad row", entry.Data["root/etl/observer-job-read"]);
    }

    [TestMethod]
    public async Task Check_ScopesThatShareAPath_AreAllInTheDataNumberedInTreeOrder()
    {
        var tree = new HealthTree();
        var offline = new IOException("tenant A: share offline");
        IHealth group = tree.NewScope("sync");
        group.NewScope("job-import").Degraded("Failed on attempt 5: tenant A: share offline", offline);
        group.NewScope("job-import").Failed("Gave up: tenant B: credentials expired", new UnauthorizedAccessException("tenant B: credentials expired"));
        group.NewScope("job-import").Degraded("Failed on attempt 2: tenant C", null);

        HealthReport report = await CheckAsync(tree);

        HealthReportEntry entry = report.Entries["jobs"];
        Assert.HasCount(3, entry.Data);
        StringAssert.StartsWith((string)entry.Data["root/sync/job-import"], "Failed on attempt 5: tenant A");
        StringAssert.StartsWith((string)entry.Data["root/sync/job-import #2"], "Failed: Gave up: tenant B");
        StringAssert.StartsWith((string)entry.Data["root/sync/job-import #3"], "Failed on attempt 2: tenant C");
        Assert.AreEqual("1 scope(s) failed, 2 degraded: root/sync/job-import, root/sync/job-import #2, root/sync/job-import #3", entry.Description);
    }

    [TestMethod]
    public async Task Check_FailureStatusGiven_IsUsedForAFailedScope()
    {
        var tree = new HealthTree();
        tree.NewScope("job-x").Failed("gave up", null);
        ServiceCollection services = new();
        services.AddLogging().AddSingleton(tree).AddHealthChecks().AddJobsHealthCheck("jobs", CheckStatus.Degraded, ["ready"]);
        using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        HealthReport ready = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("ready"));
        HealthReport live = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("live"));

        Assert.AreEqual(CheckStatus.Degraded, report.Status);
        Assert.HasCount(1, ready.Entries);
        Assert.IsEmpty(live.Entries);
    }

    [TestMethod]
    public async Task Check_NothingDegradedOrFailed_IsHealthyAndSaysSo()
    {
        var tree = new HealthTree();
        tree.NewScope("etl").NewScope("job-load").Ok("fine");

        HealthReportEntry entry = (await CheckAsync(tree)).Entries["jobs"];

        Assert.AreEqual(CheckStatus.Healthy, entry.Status);
        Assert.AreEqual("No job is degraded or failed.", entry.Description);
        Assert.IsNull(entry.Exception);
        Assert.IsEmpty(entry.Data);
    }

    [TestMethod]
    public async Task Check_OneDegraded_CountsAndNamesItAndCarriesItsError()
    {
        var tree = new HealthTree();
        var error = new TimeoutException("db slow");
        tree.NewScope("etl").NewScope("job-pull").Degraded("Failed on attempt 2: db slow", error);
        tree.NewScope("other").Ok("fine");

        HealthReportEntry entry = (await CheckAsync(tree)).Entries["jobs"];

        Assert.AreEqual(CheckStatus.Degraded, entry.Status);
        Assert.AreEqual("1 scope(s) degraded: root/etl/job-pull", entry.Description);
        Assert.AreSame(error, entry.Exception);
        Assert.HasCount(1, entry.Data);
    }

    [TestMethod]
    public async Task Check_TwoDegraded_CountsBothAndCarriesTheFirstError()
    {
        var tree = new HealthTree();
        var first = new TimeoutException("db slow");
        tree.NewScope("job-a").Degraded("slow", first);
        tree.NewScope("job-b").Degraded("retrying", null);

        HealthReportEntry entry = (await CheckAsync(tree)).Entries["jobs"];

        Assert.AreEqual(CheckStatus.Degraded, entry.Status);
        Assert.AreEqual("2 scope(s) degraded: root/job-a, root/job-b", entry.Description);
        Assert.AreSame(first, entry.Exception, "A later scope without an error does not hide the first one's.");
    }

    [TestMethod]
    public async Task Check_OneFailedOneDegraded_DescribesBothAndCarriesTheFailure()
    {
        // The degraded scope comes first in the tree: the failure's error still wins.
        var tree = new HealthTree();
        var slow = new TimeoutException("db slow");
        var gone = new IOException("disk gone");
        IHealth group = tree.NewScope("etl");
        group.NewScope("job-pull").Degraded("Failed on attempt 2: db slow", slow);
        group.NewScope("job-load").Failed("Gave up after 4 attempts: disk gone", gone);

        HealthReportEntry entry = (await CheckAsync(tree)).Entries["jobs"];

        Assert.AreEqual(CheckStatus.Unhealthy, entry.Status);
        Assert.AreEqual("1 scope(s) failed, 1 degraded: root/etl/job-pull, root/etl/job-load", entry.Description);
        Assert.AreSame(gone, entry.Exception);
        Assert.HasCount(2, entry.Data);
        Assert.AreEqual("Failed on attempt 2: db slow (TimeoutException: db slow)", entry.Data["root/etl/job-pull"]);
        Assert.AreEqual("Failed: Gave up after 4 attempts: disk gone (IOException: disk gone)", entry.Data["root/etl/job-load"]);
    }

    [TestMethod]
    public async Task Check_TwoFailedWithErrors_CarriesTheFirstFailure()
    {
        var tree = new HealthTree();
        var first = new IOException("disk gone");
        var second = new InvalidOperationException("schema mismatch");
        tree.NewScope("job-load").Failed("Gave up: disk gone", first);
        tree.NewScope("job-migrate").Failed("Gave up: schema mismatch", second);

        HealthReportEntry entry = (await CheckAsync(tree)).Entries["jobs"];

        Assert.AreEqual(CheckStatus.Unhealthy, entry.Status);
        Assert.AreEqual("2 scope(s) failed, 0 degraded: root/job-load, root/job-migrate", entry.Description);
        Assert.AreSame(first, entry.Exception);
    }

    [TestMethod]
    public async Task Check_FailedWithoutErrorAndDegradedWithOne_CarriesTheDegradedOnesError()
    {
        // A failure without an exception leaves the result the first error the tree has.
        var tree = new HealthTree();
        var slow = new TimeoutException("db slow");
        tree.NewScope("job-load").Failed("Gave up", null);
        tree.NewScope("job-pull").Degraded("slow", slow);
        tree.NewScope("job-push").Degraded("retrying", null);

        HealthReportEntry entry = (await CheckAsync(tree)).Entries["jobs"];

        Assert.AreEqual(CheckStatus.Unhealthy, entry.Status);
        Assert.AreEqual("1 scope(s) failed, 2 degraded: root/job-load, root/job-pull, root/job-push", entry.Description);
        Assert.AreSame(slow, entry.Exception);
    }

    [TestMethod]
    public void AddJobsHealthCheck_NullBuilder_ThrowsNamingIt()
    {
        Assert.AreEqual("builder", Assert.ThrowsExactly<ArgumentNullException>(() => JobsHealthChecksBuilderExtensions.AddJobsHealthCheck(null!)).ParamName);
        Assert.AreEqual("builder", Assert.ThrowsExactly<ArgumentNullException>(() => JobsHealthChecksBuilderExtensions.AddJobsHealthCheck(null!, "jobs", CheckStatus.Degraded)).ParamName);
    }

    [TestMethod]
    public void AddJobsHealthCheck_EmptyName_ThrowsNamingName()
    {
        ServiceCollection services = new();

        ArgumentException error = Assert.ThrowsExactly<ArgumentException>(() => services.AddHealthChecks().AddJobsHealthCheck(string.Empty, null));
        Assert.AreEqual("name", error.ParamName);
    }

    [TestMethod]
    public void AddJobsHealthCheck_FailureStatusNotAHealthStatus_ThrowsNamingIt()
    {
        ServiceCollection services = new();

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => services.AddHealthChecks().AddJobsHealthCheck("jobs", (CheckStatus)42));

        Assert.AreEqual("failureStatus", error.ParamName);
        Assert.AreEqual((CheckStatus)42, error.ActualValue);
    }

    private static async Task<HealthReport> CheckAsync(HealthTree tree)
    {
        ServiceCollection services = new();
        services.AddLogging().AddSingleton(tree).AddHealthChecks().AddJobsHealthCheck();
        using ServiceProvider provider = services.BuildServiceProvider();
        return await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
    }
}
