using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;

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

    [TestMethod]
    public async Task Dispose_TimerLeftTheTrigger_ItsRunBlockIsNoLongerLinked()
    {
        // A long-lived trigger shared by short-lived timers: a timer that left holds no link from
        // the trigger, which would keep its run block (and its job) reachable.
        var trigger = new Trigger();
        var left = new BufferBlock<TimerWake>();
        var staying = new BufferBlock<TimerWake>();
        Trigger.Subscription leaving = trigger.Subscribe(left);
        leaving.Connect();
        trigger.Subscribe(staying).Connect();

        leaving.Dispose();
        trigger.Fire();

        // The trigger offers a fire to its timers in the order they connected: once the later one
        // has it, the earlier one has had its chance.
        Assert.AreEqual(TimerWake.Fire, await staying.ReceiveAsync().OrTimeout());
        Assert.AreEqual(0, left.Count, "The timer that left was woken.");
    }

    [TestMethod]
    public async Task Connect_TimerLeftBeforeItConnected_NeverLinksItsRunBlock()
    {
        // A group that stops while the timer starts: the subscription ends before its link is made.
        var trigger = new Trigger();
        var left = new BufferBlock<TimerWake>();
        var staying = new BufferBlock<TimerWake>();
        Trigger.Subscription leaving = trigger.Subscribe(left);
        leaving.Dispose();
        leaving.Connect();
        trigger.Subscribe(staying).Connect();

        trigger.Fire();

        Assert.AreEqual(TimerWake.Fire, await staying.ReceiveAsync().OrTimeout());
        Assert.AreEqual(0, left.Count, "The timer that left was woken.");
        Assert.AreEqual(1, trigger.SubscriptionCount);
    }

    [TestMethod]
    public async Task StopAsync_FireHeldByTheDebounceWindow_DisarmsTheWindow()
    {
        await using var kit = new JobTestKit();
        var trigger = new Trigger(TimeSpan.FromSeconds(5), kit.Time);
        int runs = 0;
        kit.Add(Job.Timer("held", _ => Task.FromResult(Interlocked.Increment(ref runs)), TimeSpan.FromHours(1), new TimerOptions { Trigger = trigger }));
        await kit.StartAsync();
        trigger.Fire();
        await kit.WaitUntilIdleAsync();
        trigger.Fire();
        await kit.WaitUntilIdleAsync();
        Assert.AreEqual(1, runs, "The second fire is held by the window.");
        Assert.AreEqual(2, kit.Time.ArmedTimers, "The interval and the debounce window are armed.");

        await kit.StopAsync();

        Assert.AreEqual(0, kit.Time.ArmedTimers, "A stopped timer leaves nothing armed on the trigger's clock.");
        Assert.AreEqual(1, runs);
    }
}
