namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A fake clock whose timestamps can be set back, as a wall clock can; its timers still run on fake time.</summary>
internal sealed class SteppingTimeProvider : TestTimeProvider
{
    private long _offset;

    public void StepBack(TimeSpan step) => Interlocked.Add(ref _offset, -(long)(step.TotalSeconds * TimestampFrequency));

    public override long GetTimestamp() => base.GetTimestamp() + Interlocked.Read(ref _offset);
}
