using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Internal;

/// <summary>Pumps an asynchronous stream (or a channel, through <c>ReadAllAsync</c>) into the job's buffer.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
internal sealed class AsyncEnumerableSource<T> : ObserverSource<T>
{
    private readonly IAsyncEnumerable<T> _source;

    public AsyncEnumerableSource(IAsyncEnumerable<T> source)
    {
        _source = source;
    }

    public override async Task<Exception?> FeedAsync(ITargetBlock<T> target, CancellationToken cancellationToken)
    {
        try
        {
            // The token reaches MoveNextAsync, so a stop ends a stream that never produces at once.
            await foreach (T item in _source.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                // SendAsync completes at once, with a cached task, while the buffer has room; when it
                // is full the pump waits here and pulls nothing more: backpressure. False means the
                // buffer was completed by the stop.
                if (!await target.SendAsync(item, cancellationToken).ConfigureAwait(false))
                {
                    break;
                }
            }

            return null;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Rule 6: whatever the stream throws once the job is stopped is a normal end.
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
        finally
        {
            target.Complete();
        }
    }
}
