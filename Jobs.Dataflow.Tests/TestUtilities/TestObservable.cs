namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A hand-driven <see cref="IObservable{T}"/> with one subscriber, that tells when it is subscribed and unsubscribed.</summary>
internal sealed class TestObservable<T> : IObservable<T>
{
    private readonly TaskCompletionSource<IObserver<T>> _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Disposed => _disposed.Task;

    public IDisposable Subscribe(IObserver<T> observer)
    {
        _subscribed.TrySetResult(observer);
        return new Unsubscriber(_disposed);
    }

    /// <summary>Waits for the job to subscribe and returns its observer.</summary>
    public Task<IObserver<T>> WaitForObserverAsync() => _subscribed.OrTimeout();

    private sealed class Unsubscriber(TaskCompletionSource disposed) : IDisposable
    {
        public void Dispose() => disposed.TrySetResult();
    }
}
