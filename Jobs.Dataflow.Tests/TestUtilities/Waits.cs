namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>Hang guards: every wait in the suite is bounded, so a broken rule fails a test instead of hanging the run.</summary>
internal static class Waits
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static Task OrTimeout(this Task task) => task.WaitAsync(Timeout);

    public static Task<T> OrTimeout<T>(this Task<T> task) => task.WaitAsync(Timeout);

    public static Task OrTimeout(this TaskCompletionSource source) => source.Task.WaitAsync(Timeout);

    public static Task<T> OrTimeout<T>(this TaskCompletionSource<T> source) => source.Task.WaitAsync(Timeout);

    public static async Task WaitOrTimeout(this SemaphoreSlim semaphore)
    {
        if (!await semaphore.WaitAsync(Timeout))
        {
            throw new TimeoutException("The semaphore was not released in time.");
        }
    }

    /// <summary>
    /// Completes when <paramref name="token"/> is cancelled: the body of a job that runs until its
    /// group stops. Unlike <c>Task.Delay(Timeout.Infinite, token)</c> it involves no timer and no time.
    /// </summary>
    public static Task WhenCancelled(this CancellationToken token)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), cancelled);
        return cancelled.Task;
    }

    /// <summary>Like <see cref="WhenCancelled"/>, but ends with an <see cref="OperationCanceledException"/>, as work that honours its token does.</summary>
    public static async Task UntilCancelledAsync(this CancellationToken token)
    {
        await token.WhenCancelled();
        token.ThrowIfCancellationRequested();
    }
}
