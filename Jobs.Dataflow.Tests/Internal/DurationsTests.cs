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
}
