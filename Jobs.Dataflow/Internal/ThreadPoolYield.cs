using System.Runtime.CompilerServices;

namespace Jobs.Dataflow;

/// <summary>
/// An awaitable that resumes the awaiting method on the thread pool's global queue, never inline
/// and never on a synchronization context: <c>await ThreadPoolYield.Instance;</c>.
/// </summary>
/// <remarks>
/// A retry at once must leave the thread, or a function that fails synchronously and is retried
/// forever would keep it. <c>Task.Yield</c> would post to a synchronization context the user's
/// code left on the thread, and <c>ConfigureAwait(ForceYielding)</c> queues to the thread's local
/// queue, which the thread serves first: a few such retry loops would keep every worker busy with
/// their own retries while the global queue (timers, <c>Task.Run</c>, other jobs) waits for the
/// pool to add threads. The global queue is served in turn by every worker.
/// </remarks>
internal readonly struct ThreadPoolYield : ICriticalNotifyCompletion
{
    public static ThreadPoolYield Instance => default;

    public bool IsCompleted => false;

    public ThreadPoolYield GetAwaiter() => this;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) =>
        ThreadPool.QueueUserWorkItem(static continuation => continuation(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) =>
        ThreadPool.UnsafeQueueUserWorkItem(static continuation => continuation(), continuation, preferLocal: false);
}
