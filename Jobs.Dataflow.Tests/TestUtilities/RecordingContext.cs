namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A synchronization context that counts what is posted to it, and runs it on the thread pool.</summary>
internal sealed class RecordingContext : SynchronizationContext
{
    private int _posts;

    public int Posts => Volatile.Read(ref _posts);

    public override void Post(SendOrPostCallback d, object? state)
    {
        Interlocked.Increment(ref _posts);
        base.Post(d, state);
    }
}
