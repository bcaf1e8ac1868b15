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
    public void AddJobsHealthCheck_EmptyName_ThrowsNamingName()
    {
        ServiceCollection services = new();

        ArgumentException error = Assert.ThrowsExactly<ArgumentException>(() => services.AddHealthChecks().AddJobsHealthCheck(string.Empty, null));
        Assert.AreEqual("name", error.ParamName);
    }

    private static async Task<HealthReport> CheckAsync(HealthTree tree)
    {
        ServiceCollection services = new();
        services.AddLogging().AddSingleton(tree).AddHealthChecks().AddJobsHealthCheck();
        using ServiceProvider provider = services.BuildServiceProvider();
        return await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
    }
}
