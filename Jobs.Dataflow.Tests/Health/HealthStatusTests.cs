namespace Jobs.Dataflow.Tests.Health;

[TestClass]
public sealed class HealthStatusTests
{
    [TestMethod]
    [DataRow(HealthLevel.Unknown, HealthLevel.Ok, HealthLevel.Ok)]
    [DataRow(HealthLevel.Ok, HealthLevel.Stopped, HealthLevel.Stopped)]
    [DataRow(HealthLevel.Stopped, HealthLevel.Degraded, HealthLevel.Degraded)]
    [DataRow(HealthLevel.Degraded, HealthLevel.Failed, HealthLevel.Failed)]
    [DataRow(HealthLevel.Failed, HealthLevel.Ok, HealthLevel.Failed)]
    [DataRow(HealthLevel.Degraded, HealthLevel.Stopped, HealthLevel.Degraded)]
    [DataRow(HealthLevel.Ok, HealthLevel.Unknown, HealthLevel.Ok)]
    public void Overall_ParentAndChild_IsTheWorstOfTheTwo(HealthLevel parent, HealthLevel child, HealthLevel expected)
    {
        var tree = new HealthTree();
        Report(tree, parent);
        Report(tree.NewScope("child"), child);

        Assert.AreEqual(expected, tree.Snapshot().Overall);
    }

    [TestMethod]
    public void Overall_RootNeverReportedAndAGrandchildDegraded_IsDegraded()
    {
        var tree = new HealthTree();
        IHealth group = tree.NewScope("etl");
        group.NewScope("job-a").Ok("fine");
        group.NewScope("job-b").Degraded("slow", null);

        HealthStatus root = tree.Snapshot();

        Assert.AreEqual(HealthLevel.Unknown, root.Level);
        Assert.AreEqual(HealthLevel.Degraded, root.Overall);
        Assert.AreEqual(HealthLevel.Ok, root.Find("etl", "job-a")!.Overall);
    }

    [TestMethod]
    public void Find_PathThroughAMissingScope_IsNull()
    {
        var tree = new HealthTree();
        tree.NewScope("etl").NewScope("job-a").Ok("fine");
        HealthStatus root = tree.Snapshot();

        Assert.IsNull(root.Find("missing", "job-a"));
        Assert.IsNull(root.Find("etl", "missing", "deeper"));
        Assert.AreSame(root, root.Find());
    }

    [TestMethod]
    public void Find_NullPath_ThrowsNamingPath()
    {
        HealthStatus root = new HealthTree().Snapshot();

        var error = Assert.ThrowsExactly<ArgumentNullException>(() => root.Find(null!));

        Assert.AreEqual("path", error.ParamName);
    }

    [TestMethod]
    public void ToString_Tree_PrintsOneIndentedLinePerScope()
    {
        var tree = new HealthTree("svc");
        IHealth etl = tree.NewScope("etl");
        etl.NewScope("job-load").Ok("Finished (1.5s)");
        etl.NewScope("job-sync").Failed("Gave up after 3 attempts: db\ndown", new TimeoutException("db\ndown"));

        string text = tree.Snapshot().ToString();

        Assert.AreEqual(
            "svc: Unknown\n" +
            "  etl: Unknown\n" +
            "    job-load: Ok Finished (1.5s)\n" +
            "    job-sync: Failed Gave up after 3 attempts: db down (TimeoutException: db down)\n",
            text);
    }

    private static void Report(IHealth health, HealthLevel level)
    {
        switch (level)
        {
            case HealthLevel.Ok:
                health.Ok("ok");
                break;
            case HealthLevel.Stopped:
                health.Stopped("stopped");
                break;
            case HealthLevel.Degraded:
                health.Degraded("degraded", null);
                break;
            case HealthLevel.Failed:
                health.Failed("failed", null);
                break;
        }
    }
}
