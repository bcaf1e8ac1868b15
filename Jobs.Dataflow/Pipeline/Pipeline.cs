namespace Jobs.Dataflow;

/// <summary>
/// The description of a pipeline: a source, then stages, each a TPL Dataflow block. It is immutable:
/// every method returns a new description and leaves this one unchanged. <see cref="Sink"/> ends it
/// and makes the job to add to a group.
/// </summary>
/// <typeparam name="T">The type of the items the pipeline produces at this point.</typeparam>
/// <remarks>
/// Stage names are sanitized like job names and must be unique within one pipeline; each stage
/// reports health under <c>stage-NAME</c> and metrics tagged with its name. See docs/pipelines.md.
/// </remarks>
public sealed class Pipeline<T>
{
    private readonly PipelineChain<T> _chain;

    internal Pipeline(PipelineChain<T> chain)
    {
        _chain = chain;
    }

    /// <summary>Adds a stage that maps each item with a synchronous function, in a <c>TransformBlock</c>.</summary>
    /// <typeparam name="TOut">The type of the mapped items.</typeparam>
    /// <param name="stage">The stage's name; sanitized, unique within the pipeline.</param>
    /// <param name="fn">The mapping. An exception fails the item (retried as <paramref name="options"/> say, then dead-lettered); the pipeline goes on.</param>
    /// <param name="options">Parallelism, order, buffering and retries; the defaults of <see cref="StageOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description with the stage added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or the pipeline has a stage of that name already.</exception>
    public Pipeline<TOut> Transform<TOut>(string stage, Func<T, TOut> fn, StageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        string name = _chain.NewStageName(stage);
        StageOptions stageOptions = options ?? StageOptions.Default;
        return new(new StageChain<T, TOut>(_chain, name, job => TransformStage<T, TOut>.Create(job, name, stageOptions, fn)));
    }

    /// <summary>Adds a stage that maps each item with an asynchronous function, in a <c>TransformBlock</c>.</summary>
    /// <typeparam name="TOut">The type of the mapped items.</typeparam>
    /// <param name="stage">The stage's name; sanitized, unique within the pipeline.</param>
    /// <param name="fn">The mapping; its token is cancelled when the group stops (when draining, when the stop's token fires). A throw, a faulted task or a null task fails the item.</param>
    /// <param name="options">Parallelism, order, buffering and retries; the defaults of <see cref="StageOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description with the stage added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or the pipeline has a stage of that name already.</exception>
    public Pipeline<TOut> Transform<TOut>(string stage, Func<T, CancellationToken, Task<TOut>> fn, StageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        string name = _chain.NewStageName(stage);
        StageOptions stageOptions = options ?? StageOptions.Default;
        return new(new StageChain<T, TOut>(_chain, name, job => new TransformStage<T, TOut>(job, name, stageOptions, fn)));
    }

    /// <summary>Adds a stage that maps each item to zero or more items, in a <c>TransformManyBlock</c>.</summary>
    /// <typeparam name="TOut">The type of the items it produces.</typeparam>
    /// <param name="stage">The stage's name; sanitized, unique within the pipeline.</param>
    /// <param name="fn">The mapping. The stage enumerates what it returns at once, so an error while enumerating fails the item too.</param>
    /// <param name="options">Parallelism, order, buffering and retries; the defaults of <see cref="StageOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description with the stage added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or the pipeline has a stage of that name already.</exception>
    public Pipeline<TOut> TransformMany<TOut>(string stage, Func<T, IEnumerable<TOut>> fn, StageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        string name = _chain.NewStageName(stage);
        StageOptions stageOptions = options ?? StageOptions.Default;
        return new(new StageChain<T, TOut>(_chain, name, job => new ManyStage<T, TOut>(job, name, stageOptions, fn)));
    }

    /// <summary>Adds a stage that drops the items for which <paramref name="predicate"/> is false, in a <c>TransformManyBlock</c>.</summary>
    /// <param name="stage">The stage's name; sanitized, unique within the pipeline.</param>
    /// <param name="predicate">Whether to keep an item. An exception fails the item, like any stage's.</param>
    /// <param name="options">Parallelism, order, buffering and retries; the defaults of <see cref="StageOptions"/> when <see langword="null"/>.</param>
    /// <returns>The description with the stage added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> or <paramref name="predicate"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or the pipeline has a stage of that name already.</exception>
    public Pipeline<T> Where(string stage, Func<T, bool> predicate, StageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        string name = _chain.NewStageName(stage);
        StageOptions stageOptions = options ?? StageOptions.Default;
        return new(new StageChain<T, T>(_chain, name, job => ManyStage<T, T>.Where(job, name, stageOptions, predicate)));
    }

    /// <summary>
    /// Adds a stage that groups items into arrays of <paramref name="size"/>, in a <c>BatchBlock</c>. A
    /// partial batch leaves <paramref name="maxDelay"/> after its first item arrived, or when the source
    /// ends; a batch is never empty. The stage always has room for at least one whole batch.
    /// </summary>
    /// <param name="stage">The stage's name; sanitized, unique within the pipeline.</param>
    /// <param name="size">The number of items in a full batch.</param>
    /// <param name="maxDelay">The longest a partial batch waits for more items; <see cref="TimeSpan.Zero"/> (the default): until it is full, or the source ends.</param>
    /// <returns>The description with the stage added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or the pipeline has a stage of that name already.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="size"/> is below 1 or above 1,000,000 (the stage's <c>BatchBlock</c> sets aside
    /// about 100 bytes per item of a batch when it is built), or <paramref name="maxDelay"/> is negative
    /// or longer than a timer can wait (about 49 days).
    /// </exception>
    public Pipeline<T[]> Batch(string stage, int size, TimeSpan maxDelay = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, DataflowLimits.MaxBatchSize);

        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDelay, Timers.MaxDelay);
        string name = _chain.NewStageName(stage);
        return new(new StageChain<T, T[]>(_chain, name, job => new BatchStage<T>(job, name, size, maxDelay)));
    }

    /// <summary>
    /// Ends the description with a stage that consumes each item, in an <c>ActionBlock</c>: the pipeline
    /// becomes a job to add to a group.
    /// </summary>
    /// <param name="stage">The stage's name; sanitized, unique within the pipeline.</param>
    /// <param name="fn">The consumer; its token is cancelled when the group stops (when draining, when the stop's token fires). A failure is retried as <paramref name="options"/> say, then dead-lettered.</param>
    /// <param name="options">Parallelism, buffering and retries; the defaults of <see cref="StageOptions"/> when <see langword="null"/>.</param>
    /// <returns>The pipeline job. Like every job, it runs once, in one group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or the pipeline has a stage of that name already.</exception>
    public Job Sink(string stage, ObserverFunc<T> fn, StageOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        string name = _chain.NewStageName(stage);
        return new PipelineJob<T>(_chain, name, fn, options ?? StageOptions.Default);
    }
}
