using Jobs.Dataflow.Testing;

namespace Jobs.Dataflow.Tests.Timer;

/// <summary>
/// Timers join a trigger when they start and leave it when their job ends, whichever of them ends
/// first: a fire then runs exactly the timers still running, and the trigger holds no ended timer.
/// </summary>
[TestClass]
public sealed class TriggerSubscriptionTests
{
    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    [DataRow(2)]
    public async Task Fire_AfterOneOfThreeTimersStopped_RunsTheOtherTwoOnly(int stopped)
    {
        var kits = new[] { new JobTestKit(), new JobTestKit(), new JobTestKit() };
        var trigger = new Trigger();
        int[] runs = new int[kits.Length];
        for (int i = 0; i < kits.Length; i++)
        {
            int index = i;
            kits[i].Add(Job.Timer("t" + i, _ => Task.FromResult(Interlocked.Increment(ref runs[index])), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
            await kits[i].StartAsync();
        }

        Assert.AreEqual(3, trigger.SubscriptionCount);
        await kits[stopped].StopAsync();
        Assert.AreEqual(2, trigger.SubscriptionCount, "The stopped timer left the trigger.");

        trigger.Fire();
        foreach (JobTestKit kit in kits)
        {
            await kit.WaitUntilIdleAsync();
        }

        for (int i = 0; i < kits.Length; i++)
        {
            Assert.AreEqual(i == stopped ? 0 : 1, Volatile.Read(ref runs[i]), $"timer {i}");
        }

        foreach (JobTestKit kit in kits)
        {
            await kit.DisposeAsync();
        }

        Assert.AreEqual(0, trigger.SubscriptionCount, "Every timer left when its group stopped.");
    }

    [TestMethod]
    public async Task Fire_ManyTimersJoinAndLeave_TheTriggerEndsWithNone()
    {
        var trigger = new Trigger();
        for (int round = 0; round < 20; round++)
        {
            await using var kit = new JobTestKit();
            int runs = 0;
            kit.Add(Job.Timer("round", _ => Task.FromResult(Interlocked.Increment(ref runs)), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
            await kit.StartAsync();
            Assert.AreEqual(1, trigger.SubscriptionCount);
            trigger.Fire();
            await kit.WaitUntilIdleAsync();
            Assert.IsGreaterThanOrEqualTo(1, runs);
        }

        Assert.AreEqual(0, trigger.SubscriptionCount);
    }
}
