using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Telemetry;

[TestClass]
public sealed class TracingTests
{
    [TestMethod]
    public async Task OneShot_ListenerAttached_OneActivityPerAttemptWithErrorRecorded()
    {
        string name = "traced-" + Guid.NewGuid().ToString("N");
        var stopped = new ConcurrentQueue<Activity>();
        using ActivityListener listener = Listen(name, stopped);
        await using var harness = new GroupHarness(new JobGroupOptions { Labels = new Dictionary<string, object?> { ["team"] = "data" } });
        int runs = 0;
        OneShotFunc fn = (_, _) => Interlocked.Increment(ref runs) == 1 ? throw new IOException("first fails") : Task.CompletedTask;
        harness.Add(Job.OneShot(name, fn, new OneShotOptions { Retries = 1 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync(name);

        Activity[] activities = [.. stopped];
        Assert.HasCount(2, activities);
        Assert.IsTrue(activities.All(a => a.OperationName == "oneshot " + name), "An attempt's activity is named after the kind and the job.");
        Assert.AreEqual(ActivityStatusCode.Error, activities[0].Status);
        Assert.AreEqual("exception", activities[0].Events.Single().Name);
        Assert.AreEqual(ActivityStatusCode.Unset, activities[1].Status);
        Assert.AreEqual("oneshot", activities[1].GetTagItem("job.kind"));
        Assert.AreEqual("data", activities[1].GetTagItem("team"));
        Assert.AreEqual(2, activities[1].GetTagItem("job.attempt"));
        Assert.IsNull(activities[1].Parent);
    }

    [TestMethod]
    [DataRow(true, 3)]
    [DataRow(false, 0)]
    public async Task Observer_TraceItems_OneActivityPerItemOnlyWhenOptedIn(bool traceItems, int expected)
    {
        string name = "observed-" + Guid.NewGuid().ToString("N");
        var stopped = new ConcurrentQueue<Activity>();
        using ActivityListener listener = Listen(name, stopped);
        await using var harness = new GroupHarness();
        var source = new BufferBlock<int>();
        source.Post(1);
        source.Post(2);
        source.Post(3);
        source.Complete();
        ObserverFunc<int> fn = (item, _) => item == 2 ? throw new FormatException("bad item") : Task.CompletedTask;
        harness.Add(Job.Observer(name, fn, source, new ObserverOptions { TraceItems = traceItems }));

        await harness.StartAsync();
        await harness.WaitForEndAsync(name);

        Activity[] activities = [.. stopped];
        Assert.HasCount(expected, activities);
        if (traceItems)
        {
            Assert.AreEqual(1, activities.Count(a => a.Status == ActivityStatusCode.Error));
            Assert.IsTrue(activities.All(a => a.Parent is null), "Each item's activity is a root, not a child of the previous item's.");
        }
    }

    [TestMethod]
    public async Task Timer_ListenerAttached_OneActivityPerRunWithErrorRecorded()
    {
        string name = "timed-" + Guid.NewGuid().ToString("N");
        var stopped = new ConcurrentQueue<Activity>();
        using ActivityListener listener = Listen(name, stopped);
        await using var harness = new GroupHarness();
        var runs = new SemaphoreSlim(0);
        int count = 0;
        TimerFunc fn = _ =>
        {
            runs.Release();
            return Interlocked.Increment(ref count) == 1 ? throw new IOException("first run fails") : Task.CompletedTask;
        };
        await harness.StartTimerAsync(name, fn, TimeSpan.FromSeconds(1));

        harness.Time.Advance(TimeSpan.FromSeconds(1));
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerFailed));
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        await harness.Health.WaitForAsync("timer-job-" + name, HealthLevel.Ok, "OK (");
        await harness.StopAsync();

        Activity[] activities = [.. stopped];
        Assert.HasCount(2, activities);
        Assert.AreEqual(ActivityStatusCode.Error, activities[0].Status);
        Assert.AreEqual(ActivityStatusCode.Unset, activities[1].Status);
        Assert.AreEqual("timer", activities[1].GetTagItem("job.kind"));
    }

    private static ActivityListener Listen(string jobName, ConcurrentQueue<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == JobsActivitySource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if ((string?)activity.GetTagItem("job.name") == jobName)
                {
                    stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
