using System.Collections.Concurrent;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// Observer handlers that hold items until the test lets them go, and record what they saw: a
/// test can then know an item is in the handler while the others wait in the job's buffer.
/// </summary>
internal sealed class GatedHandler
{
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the items the handler started, in order.</summary>
    public ConcurrentQueue<int> Entered { get; } = new();

    /// <summary>Gets the items the handler finished, in order, with whether its token was cancelled then.</summary>
    public ConcurrentQueue<(int Item, bool Cancelled)> Finished { get; } = new();

    public int[] FinishedItems => [.. Finished.Select(f => f.Item)];

    /// <summary>Gets a handler that waits for <see cref="Release"/> and ignores its token.</summary>
    public ObserverFunc<int> UntilReleased => async (item, token) =>
    {
        Enter(item);
        await _release.Task;
        Finished.Enqueue((item, token.IsCancellationRequested));
    };

    /// <summary>Gets a handler that waits until its token is cancelled.</summary>
    public ObserverFunc<int> UntilCancelled => async (item, token) =>
    {
        Enter(item);
        await token.UntilCancelledAsync();
    };

    /// <summary>Waits until the handler has started its first item.</summary>
    public Task WaitForFirstAsync() => _first.OrTimeout();

    public void Release() => _release.TrySetResult();

    private void Enter(int item)
    {
        Entered.Enqueue(item);
        _first.TrySetResult();
    }
}
