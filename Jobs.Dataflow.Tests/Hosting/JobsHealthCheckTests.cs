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

    private static async Task<HealthReport> CheckAsync(HealthTree tree)
    {
        ServiceCollection services = new();
        services.AddLogging().AddSingleton(tree).AddHealthChecks().AddJobsHealthCheck();
        using ServiceProvider provider = services.BuildServiceProvider();
        return await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
    }
}
