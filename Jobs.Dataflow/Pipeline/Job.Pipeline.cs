using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <content>The factories of pipeline jobs: one per kind of source.</content>
public abstract partial class Job
{
    /// <summary>Starts the description of a pipeline that pulls an asynchronous stream, only while its first stage has room.</summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="source">The stream; enumerated once, with the job's token.</param>
    /// <param name="options">Buffering, stop behaviour, shutdown and the dead letter; the defaults of <see cref="PipelineOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description, to add stages to and end with <see cref="Pipeline{T}.Sink"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Pipeline<T> Pipeline<T>(string name, IAsyncEnumerable<T> source, PipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new(new SourceChain<T>(name, new AsyncEnumerableSource<T>(source), options));
    }

    /// <summary>Starts the description of a pipeline that reads a channel, only while its first stage has room.</summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="source">The channel's reader; the pipeline's source ends when the channel is completed and empty.</param>
    /// <param name="options">Buffering, stop behaviour, shutdown and the dead letter; the defaults of <see cref="PipelineOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description, to add stages to and end with <see cref="Pipeline{T}.Sink"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Pipeline<T> Pipeline<T>(string name, ChannelReader<T> source, PipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new(new SourceChain<T>(name, new ChannelSource<T>(source), options));
    }

    /// <summary>Starts the description of a pipeline whose first stage is linked to a dataflow block, and takes from it only while it has room.</summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="source">The block; linked to when the job starts, unlinked when it ends. The job never completes it.</param>
    /// <param name="options">Buffering, stop behaviour, shutdown and the dead letter; the defaults of <see cref="PipelineOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description, to add stages to and end with <see cref="Pipeline{T}.Sink"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Pipeline<T> Pipeline<T>(string name, ISourceBlock<T> source, PipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new(new SourceChain<T>(name, new BlockSource<T>(source), options));
    }

    /// <summary>
    /// Starts the description of a pipeline fed by an observable. While the pipeline is full, the
    /// observable's <c>OnNext</c> call blocks until there is room, so nothing is dropped while the job runs.
    /// </summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="source">The observable; subscribed to when the job starts, unsubscribed from when it ends.</param>
    /// <param name="options">Buffering, stop behaviour, shutdown and the dead letter; the defaults of <see cref="PipelineOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description, to add stages to and end with <see cref="Pipeline{T}.Sink"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Pipeline<T> Pipeline<T>(string name, IObservable<T> source, PipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new(new SourceChain<T>(name, new ObservableSource<T>(source), options));
    }
}
