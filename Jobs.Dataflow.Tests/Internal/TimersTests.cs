namespace Jobs.Dataflow.Tests.Internal;

[TestClass]
public sealed class TimersTests
{
    [TestMethod]
    [DataRow(0L, 0L, DisplayName = "zero")]
    [DataRow(-5L, 0L, DisplayName = "negative")]
    [DataRow(1L, 10_000L, DisplayName = "one tick: a whole millisecond")]
    [DataRow(3_000L, 10_000L, DisplayName = "0.3 ms")]
    [DataRow(10_000L, 10_000L, DisplayName = "1 ms stays")]
    [DataRow(10_001L, 20_000L, DisplayName = "just over 1 ms")]
    [DataRow(205_000L, 210_000L, DisplayName = "20.5 ms")]
    public void RoundUpToMilliseconds_AnyWait_IsWholeMillisecondsNeverShorter(long ticks, long expected)
    {
        Assert.AreEqual(TimeSpan.FromTicks(expected), Timers.RoundUpToMilliseconds(TimeSpan.FromTicks(ticks)));
    }

    [TestMethod]
    public void RoundUpToMilliseconds_LongerThanATimerCanWait_IsTheLongestWait()
    {
        Assert.AreEqual(Timers.MaxDelay, Timers.RoundUpToMilliseconds(TimeSpan.FromDays(365)));
        Assert.AreEqual(Timers.MaxDelay, Timers.RoundUpToMilliseconds(Timers.MaxDelay - TimeSpan.FromTicks(1)));
    }
}
