namespace Jobs.Dataflow.Tests.Internal;

[TestClass]
public sealed class DurationsTests
{
    [TestMethod]
    [DataRow(0.85, "850µs")]
    [DataRow(0.0004, "0.4µs")]
    [DataRow(12.5, "12.5ms")]
    [DataRow(3_200.0, "3.2s")]
    [DataRow(90_000.0, "1m30s")]
    [DataRow(3_723_500.0, "1h2m3.5s")]
    [DataRow(-1_500.0, "-1.5s")]
    public void Format_Duration_GoStyle(double milliseconds, string expected)
    {
        TimeSpan duration = TimeSpan.FromMilliseconds(milliseconds);

        Assert.AreEqual(expected, Durations.Format(duration));
        Assert.AreEqual($"OK ({expected})", Durations.Format("OK", duration));
    }

    [TestMethod]
    [DataRow(1.0, "1ms")]
    [DataRow(1_000.0, "1s")]
    [DataRow(60_000.0, "1m0s")]
    public void Format_ExactlyOneUnit_UsesThatUnit(double milliseconds, string expected)
    {
        TimeSpan duration = TimeSpan.FromMilliseconds(milliseconds);

        Assert.AreEqual(expected, Durations.Format(duration));
    }

    [TestMethod]
    [DataRow(0.9999, "999.9µs")]
    [DataRow(999.9, "999.9ms")]
    [DataRow(59_990.0, "59.99s")]
    public void Format_JustUnderOneUnit_StaysInTheSmallerUnit(double milliseconds, string expected)
    {
        Assert.AreEqual(expected, Durations.Format(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [TestMethod]
    [DataRow(999.96, "1s")]
    [DataRow(999.94, "999.9ms")]
    [DataRow(59_996.0, "1m0s")]
    [DataRow(59_994.0, "59.99s")]
    [DataRow(119_996.0, "2m0s")]
    [DataRow(3_599_996.0, "1h0m0s")]
    public void Format_RoundsUpToTheNextUnit_WritesItInThatUnit(double milliseconds, string expected)
    {
        Assert.AreEqual(expected, Durations.Format(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [TestMethod]
    public void Format_LongestDuration_DoesNotOverflow()
    {
        // 10675199 days, 2:48:05.4775807: too long to round up to 10 ms, so rounded down.
        StringAssert.StartsWith(Durations.Format(TimeSpan.MaxValue), "256204778h48m5.4", StringComparison.Ordinal);
        StringAssert.StartsWith(Durations.Format(TimeSpan.MinValue + TimeSpan.FromTicks(1)), "-256204778h48m5.4", StringComparison.Ordinal);
    }
}
