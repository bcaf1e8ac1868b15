using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Internal;

/// <summary>Subscribes to an observable and posts what it pushes into the job's buffer.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class ObservableSource<T> : ObserverSource<T>
{
    private readonly IObservable<T> _source;

    public ObservableSource(IObservable<T> source)
    {
        _source = source;
    }

    public override async Task<Exception?> FeedAsync(ITargetBlock<T> target, CancellationToken cancellationToken)
    {
        var observer = new Observer(target, cancellationToken);
        IDisposable? subscription = null;
        Exception? fault;

        // Registered before Subscribe: a cold observable pushes inside Subscribe, and a stop must
        // release an OnNext blocked there.
        using (cancellationToken.UnsafeRegister(static state => ((Observer)state!).Detach(), observer))
        {
            try
            {
                subscription = _source.Subscribe(observer);
                fault = await observer.Ended.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                fault = ex;
            }
        }

        // From here on an OnNext returns at once and its item is dropped.
        observer.Detach();
        target.Complete();
        Exception? detach = Unsubscribe(subscription);
        if (cancellationToken.IsCancellationRequested)
        {
            return detach is null ? null : new SourceDetachException(detach);
        }

        return fault ?? (detach is null ? null : new SourceDetachException(detach));
    }

    private static Exception? Unsubscribe(IDisposable? subscription)
    {
        try
        {
            subscription?.Dispose();
            return null;
        }
        catch (Exception ex)
        {
            // Not a fault of the stream: every item it pushed was taken. The job logs it as a warning.
            return ex;
        }
    }

    /// <summary>One subscription's observer: posts into the buffer, blocking while it is full.</summary>
    private sealed class Observer : IObserver<T>
    {
        private readonly ITargetBlock<T> _target;
        private readonly CancellationToken _cancellationToken;
        private readonly TaskCompletionSource<Exception?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _detached;

        public Observer(ITargetBlock<T> target, CancellationToken cancellationToken)
        {
            _target = target;
            _cancellationToken = cancellationToken;
        }

        public Task<Exception?> Ended => _ended.Task;

        public void OnNext(T value)
        {
            if (_detached || _target.Post(value))
            {
                return;
            }

            // The buffer is full (or completed, and then SendAsync says false at once). Block the
            // pushing thread until there is room or the job stops: an observable cannot be paused
            // any other way, and dropping would lose items while the job runs.
            Task send = _target.SendAsync(value, _cancellationToken);
            send.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
        }

        public void OnError(Exception error) => _ended.TrySetResult(error);

        public void OnCompleted() => _ended.TrySetResult(null);

        public void Detach()
        {
            _detached = true;
            _ended.TrySetResult(null);
        }
    }
}
