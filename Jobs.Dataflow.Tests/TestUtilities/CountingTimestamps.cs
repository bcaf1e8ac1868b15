namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A clock that counts its timestamp reads, for tests of what reads the clock and how often.</summary>
internal sealed class CountingTimestamps(TimeProvider inner) : TimeProvider
{
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override long GetTimestamp()
    {
        Interlocked.Increment(ref _reads);
        return inner.GetTimestamp();
    }

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        inner.CreateTimer(callback, state, dueTime, period);
}
