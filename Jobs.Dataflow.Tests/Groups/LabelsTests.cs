using System.Globalization;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Groups;

/// <summary>
/// docs/behaviour.md#rule-8 for work that another thread starts: a timer tick, a <c>Fire()</c> and an
/// <see cref="IObservable{T}"/> push. The test thread that drives them has no logging scope, so
/// the labels can only come from the group.
/// </summary>
[TestClass]
public sealed class LabelsTests
{
    private static readonly Dictionary<string, object?> Labels = new() { ["pipeline"] = "orders" };

    [TestMethod]
    public async Task Add_WithLabels_ScopeReadsAsAListAndAsKeyEqualsValueText()
    {
        // Plain-text providers print the scope's ToString(); structured ones read it as a list
        // (OpenTelemetry by Count and index, others by enumerating it). Text is culture-invariant.
        CultureInfo culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            var labels = new Dictionary<string, object?> { ["pipeline"] = "orders", ["ratio"] = 1.5, ["zone"] = null };
            await using var harness = new GroupHarness(new JobGroupOptions { Labels = labels });
            harness.Add(Job.OneShot("labelled", (_, _) => Task.CompletedTask));
            await harness.StartAsync();
            LogEntry entry = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobEnded));

            var scope = entry.Scopes.OfType<IReadOnlyList<KeyValuePair<string, object?>>>().Single(s => s.Any(pair => pair.Key == "pipeline"));
            Assert.AreEqual("pipeline=orders, ratio=1.5, zone=", scope.ToString());
            Assert.HasCount(3, scope);
            KeyValuePair<string, object?>[] byIndex = [.. Enumerable.Range(0, scope.Count).Select(i => scope[i])];
            CollectionAssert.AreEqual(labels.ToArray(), byIndex);
            CollectionAssert.AreEqual(labels.ToArray(), ((System.Collections.IEnumerable)scope).Cast<KeyValuePair<string, object?>>().ToArray());
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    [TestMethod]
    public async Task TimerTick_EntryWrittenByTheRun_CarriesLabelsAndJobName()
    {
        await using var harness = new GroupHarness(new JobGroupOptions { Labels = Labels });
        await harness.StartTimerAsync("ticking", _ => throw new InvalidOperationException("tick failed"), TimeSpan.FromSeconds(1));

        harness.Time.Advance(TimeSpan.FromSeconds(1));

        LogEntry entry = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerFailed));
        AssertLabelled(entry, "ticking");
    }

    [TestMethod]
    public async Task TriggerFire_EntryWrittenByTheRun_CarriesLabelsAndJobName()
    {
        await using var harness = new GroupHarness(new JobGroupOptions { Labels = Labels });
        var trigger = new Trigger(timeProvider: harness.Time);
        await harness.StartTimerAsync("fired", _ => Task.CompletedTask, TimeSpan.Zero, new TimerOptions { Trigger = trigger });

        trigger.Fire();

        LogEntry entry = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.TimerTriggered));
        AssertLabelled(entry, "fired");
    }

    [TestMethod]
    public async Task ObservablePush_EntryWrittenByTheHandler_CarriesLabelsAndJobName()
    {
        await using var harness = new GroupHarness(new JobGroupOptions { Labels = Labels });
        var observable = new TestObservable<int>();
        harness.Add(Job.Observer<int>("pushed", (_, _) => throw new FormatException("bad item"), observable));
        await harness.StartAsync();
        IObserver<int> observer = await observable.WaitForObserverAsync();

        observer.OnNext(1);

        LogEntry entry = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.ObserverHandlerFailed));
        AssertLabelled(entry, "pushed");
    }

    private static void AssertLabelled(LogEntry entry, string jobName)
    {
        Assert.AreEqual(jobName, entry["JobName"]);
        Assert.IsTrue(entry.HasScopeField("pipeline", "orders"), "The entry must be written inside the group's labels scope.");
    }
}
