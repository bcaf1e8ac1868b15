using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Timer;

/// <summary>What a caller learns from a timer's factories and run block when the input is wrong, and that the options given are the ones used.</summary>
[TestClass]
public sealed class TimerInputTests
{
    [TestMethod]
    public void Timer_ZeroIntervalWithoutTrigger_SaysItNeedsATrigger()
    {
        ArgumentOutOfRangeException error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Job.Timer("t", _ => Task.CompletedTask, TimeSpan.Zero));

        StringAssert.Contains(error.Message, "A zero interval needs a trigger");
    }

    [TestMethod]
    public void Cron_BadExpression_NamesTheExpressionAndWhatIsWrong()
    {
        TimerFunc fn = _ => Task.CompletedTask;

        ArgumentException invalid = Assert.ThrowsExactly<ArgumentException>(() => Job.Cron("c", fn, "every minute"));
        ArgumentException never = Assert.ThrowsExactly<ArgumentException>(() => Job.Cron("c", fn, "0 0 30 2 *"));

        StringAssert.Contains(invalid.Message, "Not a valid cron expression: 'every minute'.");
        StringAssert.Contains(never.Message, "The cron expression '0 0 30 2 *' never occurs.");
    }

    [TestMethod]
    public async Task Timer_TimerIntervalWithOptions_UsesThem()
    {
        await using var harness = new GroupHarness();
        var runs = new TimerRuns(harness.Time);
        DateTimeOffset start = harness.Time.GetUtcNow();

        await harness.StartTimerAsync(Job.Timer("tick", runs.Fn, new TimerInterval(TimeSpan.FromSeconds(10)), new TimerOptions { RunAtStart = true }));

        Assert.AreEqual(start, await runs.NextAsync(), "RunAtStart runs the job when it starts.");
    }

    [TestMethod]
    public void OfferMessage_InvalidHeaderOrConsumeWithoutSource_ThrowsNamingTheArgument()
    {
        ITargetBlock<TimerWake> block = new TimerRunBlock(() => Task.CompletedTask);

        ArgumentException header = Assert.ThrowsExactly<ArgumentException>(() => block.OfferMessage(default, TimerWake.Tick, null, consumeToAccept: false));
        ArgumentException consume = Assert.ThrowsExactly<ArgumentException>(() => block.OfferMessage(new DataflowMessageHeader(1), TimerWake.Tick, null, consumeToAccept: true));

        Assert.AreEqual("messageHeader", header.ParamName);
        StringAssert.Contains(header.Message, "The message header is not valid.");
        Assert.AreEqual("consumeToAccept", consume.ParamName);
        StringAssert.Contains(consume.Message, "A source is needed to consume a message.");
        block.Complete();
    }
}
