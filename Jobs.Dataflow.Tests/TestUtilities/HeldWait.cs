using System.Threading.Tasks.Sources;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A wait a test source hands out that completes only when the test says so, and tells when its
/// caller has begun to await it. That signal comes once the caller has seen the wait pending and
/// acted on it, unlike one raised when the source hands the wait out, which a test could answer
/// before the caller even looked.
/// </summary>
internal sealed class HeldWait : IValueTaskSource<bool>
{
    private readonly TaskCompletionSource _awaited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>Gets the wait to hand out; it can be awaited once.</summary>
    public ValueTask<bool> Wait => new(this, _core.Version);

    /// <summary>Gets a task that completes when the caller awaits <see cref="Wait"/>.</summary>
    public Task Awaited => _awaited.Task;

    /// <summary>Completes the wait; its caller resumes on the thread pool.</summary>
    public void Complete(bool result) => _core.SetResult(result);

    public bool GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        _core.OnCompleted(continuation, state, token, flags);
        _awaited.TrySetResult();
    }
}
