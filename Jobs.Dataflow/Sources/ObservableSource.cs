using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>Subscribes to an observable and posts what it pushes into the job's buffer.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <remarks>
/// <para>
/// <c>Subscribe</c> runs on the thread pool, not on the job's thread: a cold observable pushes
/// inside it, perhaps forever, and the job must still be able to end. The subscription is disposed
/// on the thread pool too, so a <c>Dispose</c> that blocks cannot hold up the job; the feed waits
/// for both for a short grace and then names the source in a warning.
/// </para>
/// <para>
/// A cold observable that still pushes inside <c>Subscribe</c> after the job detached would spin a
/// thread forever, since each late push returns at once: such a push throws an
/// <see cref="OperationCanceledException"/> instead, which unwinds the producer's loop out of
/// <c>Subscribe</c> (the job catches it there). A push after <c>Subscribe</c> returned is only ignored.
/// </para>
/// <para>
/// A push that finds the buffer full blocks its caller until there is room (an observable cannot
/// be paused any other way, and dropping would lose items while the job runs). On stop, the job
/// detaches: later pushes return at once and their items are ignored, and the buffer is completed
/// as soon as no push still holds an item, so an item accepted into <c>OnNext</c> before the stop is
/// delivered (draining) or counted as discarded.
/// </para>
/// </remarks>
internal sealed class ObservableSource<T> : JobSource<T>
{
    private readonly IObservable<T> _source;

    public ObservableSource(IObservable<T> source)
    {
        _source = source;
    }

    public override async Task<Exception?> FeedAsync(SourceFeed<T> feed)
    {
        var observer = new Observer(feed);
        Task<IDisposable?> subscription;

        // Registered before Subscribe: a cold observable pushes inside Subscribe, and a stop must
        // end the job even while it does.
        using (feed.StopToken.UnsafeRegister(static state => ((Observer)state!).End(null), observer))
        {
            subscription = Task.Run(() => Subscribe(observer));
            await feed.Ended.ConfigureAwait(false);
        }

        observer.Detach();

        // Disposing is the source's code too, and may block: never on the job's thread.
        _ = Task.Run(() => ReleaseAsync(subscription, feed));
        return await feed.Ended.ConfigureAwait(false);
    }

    private static async Task ReleaseAsync(Task<IDisposable?> subscribe, SourceFeed<T> feed)
    {
        IDisposable? subscription = await subscribe.ConfigureAwait(false);
        try
        {
            subscription?.Dispose();
        }
        catch (Exception ex)
        {
            // Not a fault of the stream: every item it pushed was taken. Logged as a warning.
            Log.SourceDetachFailed(feed.Context.Logger, feed.Context.JobName, ex);
        }

        feed.Released();
    }

    private IDisposable? Subscribe(Observer observer)
    {
        if (observer.IsDetached)
        {
            // The job stopped before the thread pool got to this: never subscribe. The observer is
            // handed to nobody, so nothing can push late to it.
            return null;
        }

        try
        {
            return _source.Subscribe(observer);
        }
        catch (Exception ex)
        {
            observer.End(ex);
            return null;
        }
        finally
        {
            observer.Subscribed();
        }
    }

    /// <summary>One subscription's observer: posts into the buffer, blocking while it is full.</summary>
    private sealed class Observer : IObserver<T>
    {
        // Bit 0: detached. The rest counts the pushes that hold an item (in steps of 2), so the
        // last of them, or the detach when there is none, completes the buffer.
        private const int DetachedBit = 1;
        private const int Holder = 2;

        private readonly SourceFeed<T> _feed;
        private int _state;
        private int _latePushLogged;
        private volatile bool _subscribed;

        public Observer(SourceFeed<T> feed)
        {
            _feed = feed;
        }

        /// <summary>Gets a value indicating whether the job no longer takes pushes.</summary>
        public bool IsDetached => (Volatile.Read(ref _state) & DetachedBit) != 0;

        public void OnNext(T value)
        {
            if ((Interlocked.Add(ref _state, Holder) & DetachedBit) != 0)
            {
                Release();
                LatePush();
                return;
            }

            try
            {
                if (!_feed.Target.Post(value))
                {
                    // The buffer is full. Block the pushing thread until there is room, or until the
                    // wait is cancelled (the stop by default, the stop's deadline when draining).
                    Task<bool> send = _feed.Target.SendAsync(value, _feed.SendToken);
                    ((Task)send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
                    if (!send.IsCompletedSuccessfully || !send.Result)
                    {
                        _feed.Discard();
                    }
                }
            }
            finally
            {
                Release();
            }
        }

        public void OnError(Exception error) => End(error);

        public void OnCompleted() => End(null);

        /// <summary>
        /// The stream ended (or the job stops): refuses further pushes at once, so one that breaks the
        /// observable grammar by pushing after <c>OnCompleted</c> or <c>OnError</c> is ignored like any
        /// late push, then tells the job.
        /// </summary>
        public void End(Exception? error)
        {
            Detach();
            _feed.End(error);
        }

        /// <summary>Marks that <c>Subscribe</c> has returned (or thrown): a late push is only ignored from now on.</summary>
        public void Subscribed() => _subscribed = true;

        /// <summary>Refuses further pushes; the buffer completes once no push holds an item.</summary>
        public void Detach()
        {
            if (Interlocked.Or(ref _state, DetachedBit) == 0)
            {
                _feed.CompleteTarget();
            }
        }

        private void LatePush()
        {
            bool first = Interlocked.Exchange(ref _latePushLogged, 1) == 0;
            if (_subscribed)
            {
                if (first)
                {
                    Log.SourceLatePush(_feed.Context.Logger, _feed.Context.JobName);
                }

                return;
            }

            if (first)
            {
                Log.SourceStoppedRunawaySubscribe(_feed.Context.Logger, _feed.Context.JobName);
            }

            // Still inside Subscribe: a cold producer loop that would otherwise never end.
            throw new OperationCanceledException("The observer job has stopped taking items from this source.");
        }

        private void Release()
        {
            if (Interlocked.Add(ref _state, -Holder) == DetachedBit)
            {
                _feed.CompleteTarget();
            }
        }
    }
}
