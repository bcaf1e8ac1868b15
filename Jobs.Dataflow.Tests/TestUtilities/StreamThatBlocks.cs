namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A stream that yields a few items at once, then blocks inside <c>MoveNextAsync</c>, ignoring
/// its token, until told, and yields one more: a source the stop cannot reach.
/// </summary>
internal sealed class StreamThatBlocks(int itemsFirst) : IAsyncEnumerable<int>, IAsyncEnumerator<int>, IDisposable
{
    private readonly TaskCompletionSource _blocking = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _unblock = new();

    public int Current { get; private set; }

    public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) => this;

    public ValueTask<bool> MoveNextAsync()
    {
        if (Current == itemsFirst)
        {
            _blocking.TrySetResult();
            Assert.IsTrue(_unblock.Wait(Waits.Timeout), "The test unblocks the call.");
        }

        Current++;
        return ValueTask.FromResult(Current <= itemsFirst + 1);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public void Dispose() => _unblock.Dispose();

    /// <summary>
    /// Once the job is inside the blocking call, stops the group: the stop gives the call the
    /// grace (advanced on the harness's grace clock), then ends the job without it, naming it.
    /// </summary>
    public async Task StopWhileBlockedAsync(GroupHarness harness, Job job)
    {
        await _blocking.Task.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await harness.Grace.WaitForTimerAsync();
        Assert.IsFalse(stop.IsCompleted, "The call into the source gets the grace to return.");
        harness.Grace.Advance(TimeSpan.FromSeconds(1));
        await stop.OrTimeout();
        await job.Completion.OrTimeout();

        Assert.AreEqual(job.Name, harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.SourceNotReleased))["JobName"]);
    }

    /// <summary>Lets the call the job left behind return its item, and waits for the log entry that counts it.</summary>
    public async Task ReturnLateAsync(GroupHarness harness, string eventName)
    {
        _unblock.Set();
        LogEntry late = await harness.Logs.WaitForAsync(e => e.EventId.Name == eventName);
        Assert.AreEqual(harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.SourceNotReleased))["JobName"], late["JobName"]);
    }
}
