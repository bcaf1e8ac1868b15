using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <content>The factories of observer jobs: one per kind of source.</content>
public abstract partial class Job
{
    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> for each item of an asynchronous stream. The
    /// job pulls the stream only while its buffer has room, and ends when the stream ends.
    /// </summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The handler, run for each item.</param>
    /// <param name="source">The stream; enumerated once each time the job runs, with the job's token.</param>
    /// <param name="options">Buffering, parallelism and stop behaviour; the defaults of <see cref="ObserverOptions"/> when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/>, <paramref name="fn"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Job Observer<T>(string name, ObserverFunc<T> fn, IAsyncEnumerable<T> source, ObserverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(source);
        return new ObserverJob<T>(name, fn, new AsyncEnumerableSource<T>(source), options ?? ObserverOptions.Default);
    }

    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> for each item that <paramref name="source"/>
    /// pushes. While the job's buffer is full, the source's <c>OnNext</c> call blocks until there is
    /// room, so nothing is dropped while the job runs. The job ends when the source completes.
    /// </summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The handler, run for each item.</param>
    /// <param name="source">The source; subscribed to each time the job runs, and unsubscribed from when the job ends.</param>
    /// <param name="options">Buffering, parallelism and stop behaviour; the defaults of <see cref="ObserverOptions"/> when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/>, <paramref name="fn"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Job Observer<T>(string name, ObserverFunc<T> fn, IObservable<T> source, ObserverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(source);
        return new ObserverJob<T>(name, fn, new ObservableSource<T>(source), options ?? ObserverOptions.Default);
    }

    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> for each item of a dataflow block. The job
    /// links the block straight to its handler, takes items only while it has room, and ends when
    /// the block completes.
    /// </summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The handler, run for each item.</param>
    /// <param name="source">The block; linked to each time the job runs, and unlinked from when the job ends. The job never completes it.</param>
    /// <param name="options">Buffering, parallelism and stop behaviour; the defaults of <see cref="ObserverOptions"/> when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/>, <paramref name="fn"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Job Observer<T>(string name, ObserverFunc<T> fn, ISourceBlock<T> source, ObserverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(source);
        return new ObserverJob<T>(name, fn, new BlockSource<T>(source), options ?? ObserverOptions.Default);
    }

    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> for each item read from a channel. The job
    /// reads only while its buffer has room, and ends when the channel is completed and empty.
    /// </summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The handler, run for each item.</param>
    /// <param name="source">The channel's reader.</param>
    /// <param name="options">Buffering, parallelism and stop behaviour; the defaults of <see cref="ObserverOptions"/> when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/>, <paramref name="fn"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Job Observer<T>(string name, ObserverFunc<T> fn, ChannelReader<T> source, ObserverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(source);

        return new ObserverJob<T>(name, fn, new ChannelSource<T>(source), options ?? ObserverOptions.Default);
    }
}
