using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Timer;

/// <summary>What a timer run reports besides its health: runs in flight, and its debug logs.</summary>
[TestClass]
public sealed class TimerRunReportsTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [TestMethod]
    public async Task Run_MetricsCountRunsInFlight_OneUpAtItsStartAndOneDownAtItsEnd()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        await harness.StartTimerAsync("tick", runs.Fn, Interval);

        runs.Hold();
        harness.Time.Advance(Interval);
        await runs.NextAsync();
        harness.Metrics.Verify(m => m.RunsInFlight("tick", JobKinds.Timer, 1), Times.Once);
        harness.Metrics.Verify(m => m.RunsInFlight("tick", JobKinds.Timer, It.Is<int>(d => d != 1)), Times.Never, "The run is still in flight.");

        runs.Release();
        await harness.Health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");
        harness.Metrics.Verify(m => m.RunsInFlight("tick", JobKinds.Timer, 1), Times.Once);
        harness.Metrics.Verify(m => m.RunsInFlight("tick", JobKinds.Timer, -1), Times.Once);
        harness.Metrics.Verify(m => m.RunsInFlight(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<int>()), Times.Exactly(2));
    }

    [TestMethod]
    public async Task Run_DebugEnabled_LogsItsDuration()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        await harness.StartTimerAsync("tick", runs.Fn, Interval);

        runs.Hold();
        harness.Time.Advance(Interval);
        await runs.NextAsync();
        harness.Time.Advance(TimeSpan.FromMilliseconds(1500));
        runs.Release();

        LogEntry ran = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerRan));
        Assert.AreEqual(LogLevel.Debug, ran.Level);
        Assert.AreEqual("tick", ran["JobName"]);
        Assert.AreEqual("1.5s", ran["Duration"]);
    }

    [TestMethod]
    public async Task Run_DebugDisabled_LogsNothingBelowInformation()
    {
        var logs = new LogCapture();
        var time = new TestTimeProvider();
        var health = new RecordingHealth();
        var registry = new JobRegistry(LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(logs)), timeProvider: time);
        IJobGroup group = registry.NewGroup(health);
        var runs = new TimerRuns(time);
        group.Add(Job.Timer("tick", runs.Fn, Interval));
        await group.StartAsync(CancellationToken.None);
        await health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "Primed");

        time.Advance(Interval);
        await runs.NextAsync();
        await health.WaitForAsync("timer-job-tick", HealthLevel.Ok, "OK (");
        await group.StopAsync(CancellationToken.None).OrTimeout();

        Assert.IsFalse(logs.Entries.Any(e => e.Level < LogLevel.Information), "Nothing below the minimum level reaches the logger.");
    }

    [TestMethod]
    public async Task Run_FiresHeldByTheDebounce_LogsHowLongTheyAreHeldAndNothingWhenNotHeld()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        var triggerTime = new TestTimeProvider();
        var trigger = new Trigger(TimeSpan.FromSeconds(5), triggerTime);
        await harness.StartTimerAsync("debounced", runs.Fn, TimeSpan.Zero, new TimerOptions { Trigger = trigger });

        trigger.Fire();
        await runs.NextAsync();
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.TimerFiresHeld)), "A fire outside the window is not held.");

        triggerTime.Advance(TimeSpan.FromSeconds(2));
        trigger.Fire();
        LogEntry held = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerFiresHeld));
        Assert.AreEqual(LogLevel.Debug, held.Level);
        Assert.AreEqual("debounced", held["JobName"]);
        Assert.AreEqual("3s", held["Delay"]);
        await triggerTime.WaitForTimerAsync();
        triggerTime.Advance(TimeSpan.FromSeconds(3));
        await runs.NextAsync();
        Assert.AreEqual(1, harness.Logs.Entries.Count(e => e.EventId.Name == nameof(Log.TimerFiresHeld)));
    }
}
