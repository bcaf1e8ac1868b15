using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Timer;

/// <summary>Timers that share one <see cref="TimerInterval"/> and end at different times.</summary>
[TestClass]
public sealed class TimerIntervalSubscribersTests
{
    private static readonly TimeSpan Ten = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Four = TimeSpan.FromSeconds(4);

    [TestMethod]
    [DataRow(0, DisplayName = "the first subscriber stops")]
    [DataRow(1, DisplayName = "a middle subscriber stops")]
    [DataRow(2, DisplayName = "the last subscriber stops")]
    public async Task Change_OneOfThreeTimersStopped_MovesTheOthersInTheirOrderAndLeavesTheStoppedOneAlone(int stopped)
    {
        await using var harness = new GroupHarness();
        var interval = new TimerInterval(Ten);
        DateTimeOffset start = harness.Time.GetUtcNow();
        var groups = new IJobGroup[3];
        var runs = new TimerRuns[3];
        for (int i = 0; i < 3; i++)
        {
            // One group each, started one after the other: that is the order they subscribe in.
            groups[i] = i == 0 ? harness.Group : harness.Registry.NewGroup(new RecordingHealth());
            runs[i] = new TimerRuns(harness.Time);
            groups[i].Add(Job.Timer($"t{i}", runs[i].Fn, interval));
            await groups[i].StartAsync(CancellationToken.None);
            await new IdleWaiter((JobGroup)groups[i], harness.Time, Waits.Timeout).WaitForTimerArmedAsync($"t{i}");
        }

        await groups[stopped].StopAsync(CancellationToken.None).OrTimeout();
        Assert.AreEqual(2, harness.Time.ArmedTimers, "The stopped timer's timer is gone.");

        interval.Change(Four);

        string[] others = [.. Enumerable.Range(0, 3).Where(i => i != stopped).Select(i => $"t{i}")];
        string[] changed = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.TimerIntervalChanged)).Select(e => (string)e["JobName"]!)];
        CollectionAssert.AreEqual(others, changed, "Each running timer moves once, in the order it subscribed; the stopped one not at all.");
        Assert.AreEqual(2, harness.Time.ArmedTimers, "The change rearms no stopped timer.");
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Exception is not null), "The stop of a timer on a shared interval ends it cleanly.");

        harness.Time.Advance(Four);
        foreach (int i in Enumerable.Range(0, 3).Where(i => i != stopped))
        {
            Assert.AreEqual(start + Four, await runs[i].NextAsync());
        }

        Assert.AreEqual(0, runs[stopped].Count);
        for (int i = 1; i < 3; i++)
        {
            await groups[i].StopAsync(CancellationToken.None).OrTimeout();
        }
    }

    [TestMethod]
    public async Task Change_AllTimersStoppedInTurn_LeavesNothingArmedAndEachStopIsClean()
    {
        await using var harness = new GroupHarness();
        var interval = new TimerInterval(Ten);
        var groups = new IJobGroup[3];
        for (int i = 0; i < 3; i++)
        {
            groups[i] = i == 0 ? harness.Group : harness.Registry.NewGroup(new RecordingHealth());
            groups[i].Add(Job.Timer($"t{i}", _ => Task.CompletedTask, interval));
            await groups[i].StartAsync(CancellationToken.None);
            await new IdleWaiter((JobGroup)groups[i], harness.Time, Waits.Timeout).WaitForTimerArmedAsync($"t{i}");
        }

        // The middle one first, then the last, then the first: each leaves from where it is then.
        foreach (int i in new[] { 1, 2, 0 })
        {
            await groups[i].StopAsync(CancellationToken.None).OrTimeout();
            interval.Change(interval.Value + TimeSpan.FromSeconds(1));
        }

        Assert.AreEqual(0, harness.Time.ArmedTimers);
        Assert.AreEqual(
            "t0 t2 t0",
            string.Join(' ', harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.TimerIntervalChanged)).Select(e => e["JobName"])));
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.Exception is not null));
    }
}
