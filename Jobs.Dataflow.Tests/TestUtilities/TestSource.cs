using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>The four kinds of sources of observer and pipeline jobs.</summary>
public enum SourceKind
{
    /// <summary>An <see cref="IAsyncEnumerable{T}"/>.</summary>
    AsyncEnumerable,

    /// <summary>A <see cref="ChannelReader{T}"/>.</summary>
    Channel,

    /// <summary>An <see cref="IObservable{T}"/>.</summary>
    Observable,

    /// <summary>An <see cref="ISourceBlock{TOutput}"/>.</summary>
    Block,
}

/// <summary>
/// One source of any kind, driven the same way: write items, complete or fail it. Writes to an
/// observable wait for the job to subscribe first.
/// </summary>
internal sealed class TestSource
{
    private readonly Channel<int> _channel = Channel.CreateUnbounded<int>();
    private readonly TestObservable<int> _observable = new();
    private readonly BufferBlock<int> _block = new();
    private readonly TaskCompletionSource _blockFault = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _fault;

    public TestSource(SourceKind kind)
    {
        Kind = kind;
    }

    /// <summary>Gets every kind, as test data: <c>[DynamicData(nameof(TestSource.AllKinds), typeof(TestSource))]</c>.</summary>
    public static IEnumerable<object[]> AllKinds => Enum.GetValues<SourceKind>().Select(kind => new object[] { kind });

    public SourceKind Kind { get; }

    public TestObservable<int> Observable => _observable;

    public Job CreateJob(string name, ObserverFunc<int> fn, ObserverOptions? options = null) => Kind switch
    {
        SourceKind.AsyncEnumerable => Job.Observer(name, fn, ReadAsync(_channel.Reader), options),
        SourceKind.Channel => Job.Observer(name, fn, _channel.Reader, options),
        SourceKind.Observable => Job.Observer(name, fn, _observable, options),
        _ => Job.Observer(name, fn, new FaultingBlock(_block, this), options),
    };

    /// <summary>Starts the description of a pipeline fed by this source.</summary>
    public Pipeline<int> Pipeline(string name, PipelineOptions? options = null) => Kind switch
    {
        SourceKind.AsyncEnumerable => Job.Pipeline(name, ReadAsync(_channel.Reader), options),
        SourceKind.Channel => Job.Pipeline(name, _channel.Reader, options),
        SourceKind.Observable => Job.Pipeline(name, _observable, options),
        _ => Job.Pipeline(name, new FaultingBlock(_block, this), options),
    };

    public async Task WriteAsync(params int[] items)
    {
        foreach (int item in items)
        {
            switch (Kind)
            {
                case SourceKind.Observable:
                    (await _observable.WaitForObserverAsync()).OnNext(item);
                    break;
                case SourceKind.Block:
                    Assert.IsTrue(_block.Post(item));
                    break;
                default:
                    Assert.IsTrue(_channel.Writer.TryWrite(item));
                    break;
            }
        }
    }

    public async Task CompleteAsync(Exception? error = null)
    {
        switch (Kind)
        {
            case SourceKind.Observable:
                IObserver<int> observer = await _observable.WaitForObserverAsync();
                if (error is null)
                {
                    observer.OnCompleted();
                }
                else
                {
                    observer.OnError(error);
                }

                break;
            case SourceKind.Block:
                // A faulted BufferBlock drops what it still holds; fault only the completion the job
                // sees, once every item has left the block, so the items are surely in the job.
                _fault = error;
                _block.Complete();
                break;
            default:
                _channel.Writer.Complete(error);
                break;
        }
    }

    private static async IAsyncEnumerable<int> ReadAsync(ChannelReader<int> reader, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (int item in reader.ReadAllAsync(cancellationToken))
        {
            yield return item;
        }
    }

    /// <summary>A block whose completion faults with the source's error after the inner block completed.</summary>
    private sealed class FaultingBlock(BufferBlock<int> inner, TestSource owner) : DelegatingSourceBlock(inner)
    {
        public override Task Completion => Inner.Completion.ContinueWith(
            t => owner._fault is null ? t : Task.FromException(owner._fault),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).Unwrap();
    }
}
