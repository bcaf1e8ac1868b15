namespace Jobs.Dataflow.Tests.Retry;

[TestClass]
public sealed class BackoffTests
{
    private static readonly TimeSpan Min = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(10);

    [TestMethod]
    public void ConstantBackoff_AnyAttempt_ReturnsTheDelay()
    {
        var backoff = new ConstantBackoff(TimeSpan.FromSeconds(3));

        Assert.AreEqual(TimeSpan.FromSeconds(3), backoff.GetDelay(1));
        Assert.AreEqual(TimeSpan.FromSeconds(3), backoff.GetDelay(int.MaxValue));
    }

    [TestMethod]
    public void ConstantBackoff_NegativeDelay_ThrowsNamingDelay()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ConstantBackoff(TimeSpan.FromTicks(-1)));

        Assert.AreEqual("delay", error.ParamName);
    }

    [TestMethod]
    public void ConstantBackoff_AttemptZero_ThrowsNamingAttempt()
    {
        var backoff = new ConstantBackoff(TimeSpan.FromSeconds(3));

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => backoff.GetDelay(0));

        Assert.AreEqual("attempt", error.ParamName);
    }

    [TestMethod]
    public void ExponentialBackoff_Attempts_DoubleFromMinUntilMax()
    {
        var backoff = new ExponentialBackoff(Min, Max);

        TimeSpan[] delays = [.. Enumerable.Range(1, 9).Select(backoff.GetDelay)];

        CollectionAssert.AreEqual(
            new[] { 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000 }.Select(ms => TimeSpan.FromMilliseconds(ms)).ToArray(),
            delays);
    }

    [TestMethod]
    public void ExponentialBackoff_DoublingThatFitsUnderMaxToTheTick_IsNotCapped()
    {
        // 3, 6 and 12 ticks fit under a max of 13; 24 does not.
        var backoff = new ExponentialBackoff(TimeSpan.FromTicks(3), TimeSpan.FromTicks(13));

        long[] delays = [.. Enumerable.Range(1, 5).Select(attempt => backoff.GetDelay(attempt).Ticks)];

        CollectionAssert.AreEqual(new long[] { 3, 6, 12, 13, 13 }, delays);
    }

    [TestMethod]
    [DataRow(63)]
    [DataRow(64)]
    [DataRow(65)]
    [DataRow(66)]
    [DataRow(127)]
    [DataRow(128)]
    [DataRow(129)]
    [DataRow(int.MaxValue)]
    public void ExponentialBackoff_HugeAttempts_StayAtMax(int attempt)
    {
        var backoff = new ExponentialBackoff(Min, Max);

        Assert.AreEqual(Max, backoff.GetDelay(attempt));
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(64)]
    [DataRow(65)]
    [DataRow(int.MaxValue)]
    public void ExponentialBackoff_ZeroMin_RetriesAtOnceEveryTime(int attempt)
    {
        var backoff = new ExponentialBackoff(TimeSpan.Zero, Max);

        Assert.AreEqual(TimeSpan.Zero, backoff.GetDelay(attempt));
    }

    [TestMethod]
    public void ExponentialBackoff_AttemptZero_ThrowsNamingAttempt()
    {
        var backoff = new ExponentialBackoff(Min, Max);

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => backoff.GetDelay(0));

        Assert.AreEqual("attempt", error.ParamName);
    }

    [TestMethod]
    public void ExponentialBackoff_EveryAttemptUpToIntMax_StaysWithinMinAndMax()
    {
        var backoff = new ExponentialBackoff(TimeSpan.FromTicks(1), TimeSpan.MaxValue);

        foreach (int attempt in AttemptsUpToIntMax())
        {
            TimeSpan delay = backoff.GetDelay(attempt);
            Assert.IsTrue(delay >= TimeSpan.FromTicks(1) && delay <= TimeSpan.MaxValue, $"attempt {attempt}: {delay}");
        }
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(0.999999)]
    public void ExponentialBackoff_FullJitterAtExtremes_NeverPastMaxNorBelowMin(double random)
    {
        var backoff = new ExponentialBackoff(Min, Max) { Jitter = 1, RandomSource = () => random };

        foreach (int attempt in AttemptsUpToIntMax())
        {
            TimeSpan delay = backoff.GetDelay(attempt);
            Assert.IsTrue(delay >= Min && delay <= Max, $"attempt {attempt}: {delay}");
        }
    }

    [TestMethod]
    public void ExponentialBackoff_JitterAtMinOrMax_SpreadsEvenlyOverWhatLiesBetweenThem()
    {
        // At min the spread is [min, min * 1.5], at max [max * 0.5, max]: the draws spread over it
        // evenly, not half of them piled on the bound.
        ExponentialBackoff Drawing(double random) => new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)) { Jitter = 0.5, RandomSource = () => random };

        Assert.AreEqual(TimeSpan.FromSeconds(1), Drawing(0).GetDelay(1));
        Assert.AreEqual(1.125, Drawing(0.25).GetDelay(1).TotalSeconds, 0.001);
        Assert.AreEqual(1.25, Drawing(0.5).GetDelay(1).TotalSeconds, 0.001);
        Assert.AreEqual(1.5, Drawing(0.999999).GetDelay(1).TotalSeconds, 0.001);
        Assert.AreEqual(2.5, Drawing(0.25).GetDelay(5).TotalSeconds, 0.001);
        Assert.AreEqual(4, Drawing(0.999999).GetDelay(5).TotalSeconds, 0.001);
    }

    [TestMethod]
    [DataRow((1L << 54) + 3, 0.0, DisplayName = "a bound no double holds, lowest draw")]
    [DataRow((1L << 53) + 1, 0.999999, DisplayName = "a bound no double holds, highest draw")]
    [DataRow(long.MaxValue - 1, 0.0, DisplayName = "one tick under TimeSpan.MaxValue")]
    [DataRow(1000L, double.NaN, DisplayName = "a random source that returns NaN")]
    public void ExponentialBackoff_JitterWithMinEqualToMax_IsExactlyThatDelay(long ticks, double random)
    {
        TimeSpan bound = TimeSpan.FromTicks(ticks);
        var backoff = new ExponentialBackoff(bound, bound) { Jitter = 0.5, RandomSource = () => random };

        Assert.AreEqual(bound, backoff.GetDelay(1));
        Assert.AreEqual(bound, backoff.GetDelay(int.MaxValue));
    }

    [TestMethod]
    public void ExponentialBackoff_PinnedJitter_SpreadsByTheFraction()
    {
        var low = new ExponentialBackoff(Min, Max) { Jitter = 0.2, RandomSource = () => 0 };
        var high = new ExponentialBackoff(Min, Max) { Jitter = 0.2, RandomSource = () => 0.75 };

        Assert.AreEqual(TimeSpan.FromMilliseconds(320), low.GetDelay(3));
        Assert.AreEqual(TimeSpan.FromMilliseconds(440), high.GetDelay(3));
    }

    [TestMethod]
    public void ExponentialBackoff_ZeroJitter_GivesExactDelaysWithoutDrawingRandomNumbers()
    {
        // 2^53 + 1 ticks has no exact double: a delay that went through the jitter's arithmetic would lose its last tick.
        TimeSpan min = TimeSpan.FromTicks((1L << 53) + 1);
        int draws = 0;
        var backoff = new ExponentialBackoff(min, TimeSpan.MaxValue)
        {
            Jitter = 0,
            RandomSource = () =>
            {
                draws++;
                return 0.5;
            },
        };

        Assert.AreEqual(0.0, backoff.Jitter);
        Assert.AreEqual(min, backoff.GetDelay(1));
        Assert.AreEqual(TimeSpan.FromTicks(min.Ticks * 2), backoff.GetDelay(2));
        Assert.AreEqual(0, draws, "Without jitter the random source is never called.");
    }

    [TestMethod]
    public void ExponentialBackoff_NullRandomSource_ThrowsNamingRandomSource()
    {
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => new ExponentialBackoff(Min, Max) { RandomSource = null! });

        Assert.AreEqual("RandomSource", error.ParamName);
    }

    [TestMethod]
    public void ExponentialBackoff_MinGreaterThanMax_ThrowsNamingMin()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ExponentialBackoff(Max, Min));

        Assert.AreEqual("min", error.ParamName);
    }

    [TestMethod]
    public void ExponentialBackoff_NegativeMin_ThrowsNamingMin()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ExponentialBackoff(TimeSpan.FromTicks(-1), Max));

        Assert.AreEqual("min", error.ParamName);
    }

    [TestMethod]
    [DataRow(-0.01)]
    [DataRow(1.01)]
    [DataRow(double.NaN)]
    public void ExponentialBackoff_JitterOutsideZeroToOne_ThrowsNamingJitter(double jitter)
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ExponentialBackoff(Min, Max) { Jitter = jitter });

        Assert.AreEqual("Jitter", error.ParamName);
        StringAssert.StartsWith(error.Message, "Jitter must lie in [0, 1].");
    }

    [TestMethod]
    public void OneShotOptions_RetriesBelowMinusOne_ThrowsNamingRetries()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new OneShotOptions { Retries = -2 });

        Assert.AreEqual("Retries", error.ParamName);
    }

    private static IEnumerable<int> AttemptsUpToIntMax()
    {
        for (int attempt = 1; attempt <= 200; attempt++)
        {
            yield return attempt;
        }

        for (long attempt = 256; attempt <= int.MaxValue; attempt = (attempt * 3) + 1)
        {
            yield return (int)attempt;
        }

        yield return int.MaxValue - 1;
        yield return int.MaxValue;
    }
}
