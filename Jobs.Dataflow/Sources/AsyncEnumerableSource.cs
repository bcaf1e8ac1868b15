namespace Jobs.Dataflow;

/// <summary>Pumps an asynchronous stream into the handler's bounded block.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class AsyncEnumerableSource<T> : JobSource<T>
{
    private readonly IAsyncEnumerable<T> _source;
    private StreamPump? _pump;

    public AsyncEnumerableSource(IAsyncEnumerable<T> source)
    {
        _source = source;
    }

    // Straight into the handler's block: through a buffer block in front, every item went
    // buffer -> offer -> postpone -> consume into a handler block bounded by its parallelism, and
    // the pump resumed through the thread pool per item (see docs/benchmarks.md).
    public override bool FeedsHandlerDirectly => true;

    public override bool IsPumped => true;

    public override bool IsAtRest => Volatile.Read(ref _pump) is { IsAtRest: true };

    public override bool InSourceCall => Volatile.Read(ref _pump) is { InSourceCall: true };

    public override Task<Exception?> FeedAsync(SourceFeed<T> feed)
    {
        var pump = new StreamPump(_source, feed);
        Volatile.Write(ref _pump, pump);
        pump.Start();
        return feed.Ended;
    }

    private sealed class StreamPump : Pump<T>
    {
        private readonly IAsyncEnumerable<T> _source;
        private IAsyncEnumerator<T>? _enumerator;

        public StreamPump(IAsyncEnumerable<T> source, SourceFeed<T> feed)
            : base(feed, pullTakesItems: true)
        {
            _source = source;
        }

        protected override async Task PumpAsync()
        {
            // The token reaches MoveNextAsync, so a stop ends a stream that never produces at once.
            EnterSource();
            IAsyncEnumerator<T> enumerator = _source.GetAsyncEnumerator(Feed.StopToken);
            _enumerator = enumerator;
            if (!LeaveSource())
            {
                return;
            }

            while (CanTake())
            {
                EnterSource();
                ValueTask<bool> pull = enumerator.MoveNextAsync();
                bool more;
                if (!LeaveSource() && pull.IsCompleted)
                {
                    // The call blocked past the stop's grace, and the job left it behind.
                    if (pull.GetAwaiter().GetResult())
                    {
                        Feed.LateItem();
                    }

                    return;
                }

                if (pull.IsCompleted)
                {
                    more = pull.GetAwaiter().GetResult();
                }
                else
                {
                    BeginWait();
                    more = await AwaitSource(pull).ConfigureAwait(false);
                    if (!EndWait())
                    {
                        if (more)
                        {
                            Feed.LateItem();
                        }

                        return;
                    }
                }

                if (!more)
                {
                    return;
                }

                T item = enumerator.Current;
                await OfferAsync(item).ConfigureAwait(false);
            }
        }

        protected override ValueTask DisposeSourceAsync() => _enumerator?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
