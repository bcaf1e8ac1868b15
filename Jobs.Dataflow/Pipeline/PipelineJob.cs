using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>
/// Executes a pipeline: builds one block per stage from the description, links them with
/// completion propagated, feeds the first from the source the way an observer is fed (same pumps,
/// same drain guarantee), and ends when the sink has handled every item (see
/// docs/behaviour.md#rule-31 to #rule-39 and docs/pipelines.md).
/// </summary>
/// <remarks>
/// This part holds what the stages share: the context, the stages' token, the counts, the dead
/// letter block, and the report flag. <see cref="PipelineJob{T}"/> adds the sink and the execution.
/// </remarks>
internal abstract class PipelineJob : Job
{
    /// <summary>The least time between two <c>OK</c> health reports (docs/behaviour.md#rule-38).</summary>
    internal static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    private readonly List<PipelineStage> _stages = [];
    private long _discarded;
    private long _failed;
    private int _reportDue;
    private ITimer? _reportTimer;
    private ActionBlock<QueuedLetter>? _deadLetters;

    protected PipelineJob(PipelineHead head)
        : base(head.Name)
    {
        Options = head.Options;
    }

    public PipelineOptions Options { get; }

    /// <summary>Gets what the group gave the job; set when it starts executing.</summary>
    public JobContext Context { get; private set; } = null!;

    /// <summary>Gets the token every stage's function gets: the group's, or the stop's deadline when draining.</summary>
    public CancellationToken StageToken { get; private set; }

    /// <summary>Gets the group's clock.</summary>
    public TimeProvider Time { get; private set; } = TimeProvider.System;

    internal override string Kind => JobKinds.Pipeline;

    /// <summary>Gets the stages, from the first to the sink.</summary>
    internal IReadOnlyList<PipelineStage> Stages => _stages;

    /// <summary>Gets how the source feeds the first stage; set by <see cref="SetHead{T}"/>.</summary>
    protected ISourceHead Head { get; private set; } = null!;

    private protected override string HealthScopePrefix => "pipeline-job-";

    /// <summary>Adds a stage, in order from the first; called while the blocks are built.</summary>
    public void AddStage(PipelineStage stage)
    {
        // Only the stage right after a batch stage takes batches: any other item that happens to
        // be an array is still one item.
        stage.TakesBatches = _stages.Count > 0 && _stages[^1].GivesBatches;
        _stages.Add(stage);
    }

    /// <summary>Makes <paramref name="target"/>, the first stage's block, what the source feeds.</summary>
    public void SetHead<T>(JobSource<T> source, ITargetBlock<T> target, Predicate<T>? admit)
    {
        // Called right after the first stage was added: a pump waits on what its block starts.
        HandlerRoom? room = source.IsPumped ? _stages[0].OpenRoom() : null;
        Head = new SourceHead<T>(this, source, target, admit, room);
    }

    /// <summary>Counts items a stop kept from reaching the sink.</summary>
    public void Discard(long items) => Interlocked.Add(ref _discarded, items);

    /// <summary>Counts an item that failed for good, in any stage.</summary>
    public void CountFailed() => Interlocked.Increment(ref _failed);

    /// <summary>Hands a dead letter to the dead letter block, from a thread that may wait for room (the stage's).</summary>
    /// <param name="letter">The letter.</param>
    /// <param name="weight">How many source items the letter's item stands for, counted as discarded if it cannot be handed over.</param>
    public void SendDeadLetter(DeadLetter letter, long weight)
    {
        ActionBlock<QueuedLetter> block = _deadLetters!;
        var queued = new QueuedLetter(letter, weight);
        if (block.Post(queued))
        {
            return;
        }

        // Full: the dead letter holds the failing stage back, as any slow stage does.
        Task<bool> send = block.SendAsync(queued, StageToken);
        ((Task)send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
        if (!send.IsCompletedSuccessfully || !send.Result)
        {
            Discard(weight);
        }
    }

    /// <summary>Hands a dead letter to the dead letter block, waiting for room.</summary>
    /// <param name="letter">The letter.</param>
    /// <param name="weight">How many source items the letter's item stands for, counted as discarded if it cannot be handed over.</param>
    public async Task SendDeadLetterAsync(DeadLetter letter, long weight)
    {
        Task<bool> send = _deadLetters!.SendAsync(new QueuedLetter(letter, weight), StageToken);
        await ((Task)send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!send.IsCompletedSuccessfully || !send.Result)
        {
            Discard(weight);
        }
    }

    /// <summary>
    /// Called for each item the sink handled: makes the periodic report when its timer said it is
    /// due. The timer only raises a flag, and is armed again by the report, so an idle pipeline has
    /// no periodic timer and a busy one reads no clock per item.
    /// </summary>
    public void ItemSunk()
    {
        if (Volatile.Read(ref _reportDue) != 0 && Interlocked.Exchange(ref _reportDue, 0) != 0)
        {
            Report();
        }
    }

    /// <summary>Busy while starting, while its source has items at hand, and while items wait in a stage, a stage's function or the dead letter runs, or a block passes items on.</summary>
    internal override void DescribeBusy(JobContext context, List<string> busy)
    {
        if (!context.Settled)
        {
            busy.Add($"pipeline job {Name}: starting");
            return;
        }

        long working = context.Work?.Busy ?? 0;
        if (working > 0)
        {
            busy.Add($"pipeline job {Name}: {working} item(s) in a stage's function or the dead letter");
            return;
        }

        foreach (PipelineStage stage in _stages)
        {
            if (stage.HoldsItems)
            {
                busy.Add($"pipeline job {Name}: items wait in stage {stage.Name}");
                return;
            }
        }

        if (_deadLetters is { InputCount: > 0 })
        {
            busy.Add($"pipeline job {Name}: dead letters wait");
        }
        else if (context.Work is { Moving: true })
        {
            busy.Add($"pipeline job {Name}: its blocks are passing items on");
        }
        else if (Head.InSourceCall)
        {
            busy.Add($"pipeline job {Name}: in a call to its source");
        }
        else if (!Head.IsAtRest)
        {
            busy.Add($"pipeline job {Name}: its source has items at hand");
        }
    }

    /// <summary>Prepares the execution: the context, the tokens, the clock, and the dead letter block.</summary>
    protected void Begin(JobContext context)
    {
        Context = context;
        StageToken = Options.DrainOnStop ? context.StopDeadline : context.CancellationToken;
        Time = context.TimeProvider;
        if (Options.DeadLetter is { } deadLetter)
        {
            WorkCounter? work = context.Work;
            Func<QueuedLetter, Task> deliver = queued => DeliverAsync(deadLetter, queued);
            _deadLetters = new ActionBlock<QueuedLetter>(
                work is null ? deliver : queued => work.CountAsync(deliver, queued),
                new ExecutionDataflowBlockOptions { BoundedCapacity = Options.BoundedCapacity, TaskScheduler = context.BlockScheduler });
        }
    }

    /// <summary>Opens the health scopes, reports <c>Primed</c>, and arms the report timer.</summary>
    protected void Open()
    {
        Context.Health.Ok("Primed");
        foreach (PipelineStage stage in _stages)
        {
            stage.Open(Context.Health);
        }

        _reportTimer = Time.CreateTimer(static state => Volatile.Write(ref ((PipelineJob)state!)._reportDue, 1), this, ReportInterval, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Waits for the dead letters still queued, then stops the timers, closes the stages and logs the
    /// items discarded; throws a stage's crash, after that log, so the count is not lost with it.
    /// </summary>
    protected async Task CloseAsync()
    {
        if (_deadLetters is { } deadLetters)
        {
            deadLetters.Complete();
            await deadLetters.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _reportTimer?.Dispose();
        foreach (PipelineStage stage in _stages)
        {
            (stage as IBatchTimer)?.StopTimer();
            stage.Close();
        }

        // The stages catch everything their functions throw, so only a bug of the library faults a
        // block. Let the group log it.
        AggregateException? crash = _stages.Select(stage => stage.Block.Completion.Exception).FirstOrDefault(fault => fault is not null);
        Head.LogDiscarded(Interlocked.Read(ref _discarded), blockFailed: crash is not null);
        if (crash is not null)
        {
            ExceptionDispatchInfo.Throw(crash.InnerException ?? crash);
        }
    }

    /// <summary>Reports the end, once <see cref="CloseAsync"/> logged the items discarded: completed or failed, and the shutdown asked for.</summary>
    protected void End(Exception? fault)
    {
        if (Context.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        long @in = _stages[0].In;
        long @out = _stages[^1].Out;
        long failed = Interlocked.Read(ref _failed);
        if (fault is null)
        {
            foreach (PipelineStage stage in _stages)
            {
                stage.Completed();
            }

            Log.PipelineCompleted(Context.Logger, Name, @in, @out, failed);
            Context.Health.Stopped(string.Create(CultureInfo.InvariantCulture, $"Completed [{@out}]"));
            if (Options.ShutdownWhenComplete)
            {
                Context.RequestShutdown(error: null);
            }

            return;
        }

        string reason = $"Source failed: {fault.Message}";
        Context.Fail(fault, reason, (logger, name, error) => Log.PipelineSourceFailed(logger, name, @in, error), activity: null, shutdown: false);
        Context.GiveUp(fault, reason, Options.ShutdownOnError);
    }

    private void Report()
    {
        long @in = _stages[0].In;
        long @out = _stages[^1].Out;
        long failed = Interlocked.Read(ref _failed);
        Context.Health.Ok(string.Create(CultureInfo.InvariantCulture, $"OK [in {@in}, out {@out}, failed {failed}]"));
        foreach (PipelineStage stage in _stages)
        {
            stage.Report();
        }

        _reportTimer?.Change(ReportInterval, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Delivers a dead letter, or counts it as discarded after the stop; never throws.</summary>
    private async Task DeliverAsync(DeadLetterFunc deadLetter, QueuedLetter queued)
    {
        DeadLetter letter = queued.Letter;
        if (StageToken.IsCancellationRequested)
        {
            // A letter still queued after the stop (or the drain's deadline) is discarded, and counted.
            Discard(queued.Weight);
            return;
        }

        try
        {
            // A null task says nothing of the item's fate: it is the dead letter's failure, as in a stage.
            await (deadLetter(letter, StageToken) ?? throw new InvalidOperationException(
                $"The dead letter of pipeline job {Name} returned a null Task for an item of stage {letter.Stage}.")).ConfigureAwait(false);
        }
        catch (Exception ex) when (StageToken.IsCancellationRequested)
        {
            // Ended by the stop: a normal end (docs/behaviour.md#rule-6), the item counted as discarded.
            Context.EndedByCancellation(ex, StageToken);
            Discard(queued.Weight);
        }
        catch (Exception ex)
        {
            // A throwing dead letter is logged and never stops the pipeline (docs/behaviour.md#rule-33).
            Log.PipelineDeadLetterFailed(Context.Logger, Name, letter.Stage, ex);
        }
    }

    /// <summary>
    /// A dead letter waiting for the dead letter function, and how many source items it stands for:
    /// a batch from the stage after a <c>Batch</c> stands for its length, any other item (an array
    /// a user's stage made, too) for one.
    /// </summary>
    private readonly record struct QueuedLetter(DeadLetter Letter, long Weight);

    /// <summary>The feed of the first stage: a pump or a link straight into it, or a buffer in front for an observable.</summary>
    private sealed class SourceHead<T> : ISourceHead
    {
        private static readonly DataflowLinkOptions PropagateCompletion = new() { PropagateCompletion = true };

        private readonly JobSource<T> _source;
        private readonly SourceFeed<T> _feed;
        private readonly BufferBlock<T>? _buffer;

        public SourceHead(PipelineJob job, JobSource<T> source, ITargetBlock<T> target, Predicate<T>? admit, HandlerRoom? room)
        {
            _source = source;
            JobContext context = job.Context;
            if (source.FeedsHandlerDirectly)
            {
                _feed = new SourceFeed<T>(context, target, job.Options.DrainOnStop) { Admit = admit, Room = room };
            }
            else
            {
                // An observable pushes: a bounded buffer in front of the first stage blocks its OnNext while full.
                var buffer = new BufferBlock<T>(new DataflowBlockOptions { BoundedCapacity = job.Options.BoundedCapacity, TaskScheduler = context.BlockScheduler });
                _ = admit is null ? buffer.LinkTo(target, PropagateCompletion) : buffer.LinkTo(target, PropagateCompletion, admit);
                _feed = new SourceFeed<T>(context, buffer, job.Options.DrainOnStop);
                _buffer = buffer;
            }

            if (source.GroupCompletesTarget)
            {
                context.Own(_feed.Target);
            }
        }

        public bool IsAtRest => _source.IsAtRest && _buffer is not { Count: > 0 };

        public bool InSourceCall => _source.InSourceCall;

        public Task<Exception?> StartAsync() => _source.FeedAsync(_feed);

        public Task WaitForReleaseAsync() => _feed.WaitForReleaseAsync();

        public void LogDiscarded(long stages, bool blockFailed) => _feed.LogDiscarded(stages, blockFailed);
    }
}
