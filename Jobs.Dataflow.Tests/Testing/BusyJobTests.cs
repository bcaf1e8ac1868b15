using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Testing;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Testing;

/// <summary>
/// What the kit names when a wait for idle gives up: for each kind of job, what keeps it busy, so
/// that a stuck test says where it is stuck.
/// </summary>
[TestClass]
public sealed class BusyJobTests
{
    [TestMethod]
    public async Task WaitUntilIdleAsync_ObserverHandlerStuckOnAChannel_NamesTheItemsInTheHandlerAndWaiting()
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        kit.Add(Job.Observer("reader", (int _, CancellationToken _) => release.Task, channel.Reader));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);

        await BusyWithAsync(kit, "observer job reader: 1 item(s) in the handler, 2 waiting");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_ObserverWithItsOnlyItemStuck_NamesTheItemInTheHandler()
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        kit.Add(Job.Observer("single", (int _, CancellationToken _) => release.Task, channel.Reader));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);

        await BusyWithAsync(kit, "observer job single: 1 item(s) in the handler, 0 waiting");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_StreamThatBlocksItsCallerAtStart_NamesTheCallToTheSource()
    {
        await using var kit = NewKit();
        using var gate = new ManualResetEventSlim();
        kit.Add(Job.Observer("slow", (int _, CancellationToken _) => Task.CompletedTask, new BlockingStream(gate)));
        await kit.Group.StartAsync(CancellationToken.None);

        await BusyWithAsync(kit, "observer job slow: in a call to its source");
        gate.Set();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_ObserverHandlerStuckOnAnObservable_CountsTheItemsItsBufferHolds()
    {
        await using var kit = NewKit();
        var source = new TestObservable<int>();
        var release = new TaskCompletionSource();
        kit.Add(Job.Observer("pushed", (int _, CancellationToken _) => release.Task, source));
        await kit.Group.StartAsync(CancellationToken.None);
        IObserver<int> observer = await source.WaitForObserverAsync();

        observer.OnNext(1);
        observer.OnNext(2);
        observer.OnNext(3);

        await BusyWithAsync(kit, "observer job pushed: 1 item(s) in the handler, 2 waiting");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_ObserverOfABufferBlockWithoutItems_IsIdle()
    {
        await using var kit = NewKit();
        var source = new BufferBlock<int>();
        int handled = 0;
        kit.Add(Job.Observer("block", (int _, CancellationToken _) => Task.FromResult(Interlocked.Increment(ref handled)), source));
        await kit.Group.StartAsync(CancellationToken.None);
        await IdleAsync(kit);

        source.Post(1);
        source.Post(2);
        await IdleAsync(kit);

        Assert.AreEqual(2, Volatile.Read(ref handled), "Items a buffer block still holds keep the kit waiting.");
    }

    [TestMethod]
    [DataRow("observer", true, DisplayName = "An observer of a channel that can peek")]
    [DataRow("observer", false, DisplayName = "An observer of a channel that can only count")]
    [DataRow("pipeline", true, DisplayName = "A pipeline of a channel that can peek")]
    [DataRow("pipeline", false, DisplayName = "A pipeline of a channel that can only count")]
    public async Task WaitUntilIdleAsync_ChannelHoldsAnItemItsWaitingReaderWasNotYetWokenFor_IsBusyUntilItIsHandled(string kind, bool canPeek)
    {
        // A channel wakes its waiting reader on the thread pool: until then the pump still waits
        // with an item in the channel. The kit must not call that idle, whichever way the channel
        // can tell it holds an item.
        await using var kit = NewKit();
        var reader = new HeldWakeReader(canPeek);
        int handled = 0;
        ObserverFunc<int> handle = (_, _) => Task.FromResult(Interlocked.Increment(ref handled));
        kit.Add(kind == "observer" ? Job.Observer("held", handle, reader) : Job.Pipeline("held", reader).Sink("write", handle));
        await kit.Group.StartAsync(CancellationToken.None);
        await reader.Waiting.OrTimeout();

        reader.WriteWithoutWaking(1);
        await BusyWithAsync(kit, $"{kind} job held: its source has items at hand");
        reader.Wake();
        await IdleAsync(kit);

        Assert.AreEqual(1, Volatile.Read(ref handled));
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_TimerRunStuck_NamesTheRunInFlight()
    {
        await using var kit = NewKit();
        var release = new TaskCompletionSource();
        kit.Add(Job.Timer("refresh", _ => release.Task, TimeSpan.FromMinutes(1)));
        await kit.Group.StartAsync(CancellationToken.None);
        await IdleAsync(kit);

        kit.Time.Advance(TimeSpan.FromMinutes(1));

        await BusyWithAsync(kit, "timer job refresh: a run is in flight or pending");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_FireHeldByADebounceOnTheSystemClock_NamesTheOtherClock()
    {
        await using var kit = NewKit();
        var trigger = new Trigger(TimeSpan.FromHours(1));
        int runs = 0;
        kit.Add(Job.Timer("debounced", _ => Task.FromResult(Interlocked.Increment(ref runs)), TimeSpan.FromDays(1), new TimerOptions { Trigger = trigger }));
        await kit.Group.StartAsync(CancellationToken.None);
        await IdleAsync(kit);
        trigger.Fire();
        await IdleAsync(kit);
        Assert.AreEqual(1, Volatile.Read(ref runs));

        trigger.Fire();

        await BusyWithAsync(kit, "timer job debounced: trigger fires wait for a debounce window on another clock than the group's");
        Assert.AreEqual(1, Volatile.Read(ref runs), "The second fire waits for the window, which the kit's clock cannot end.");
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_PipelineSinkStuck_NamesTheItemInTheStage()
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        kit.Add(Job.Pipeline("etl", channel.Reader)
            .Transform("double", x => x * 2)
            .Sink("write", (int _, CancellationToken _) => release.Task));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);

        await BusyWithAsync(kit, "pipeline job etl: 1 item(s) in a stage's function or the dead letter");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_PipelineStreamThatBlocksItsCallerAtStart_NamesTheCallToTheSource()
    {
        await using var kit = NewKit();
        using var gate = new ManualResetEventSlim();
        kit.Add(Job.Pipeline("slow", new BlockingStream(gate)).Sink("write", (int _, CancellationToken _) => Task.CompletedTask));
        await kit.Group.StartAsync(CancellationToken.None);

        await BusyWithAsync(kit, "pipeline job slow: in a call to its source");
        gate.Set();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_PipelineSinkStuckWithItemsBehindIt_NamesOnlyTheItemInTheFunction()
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        kit.Add(Job.Pipeline("etl", channel.Reader).Sink("write", (int _, CancellationToken _) => release.Task));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.TryWrite(3);

        string message = await BusyWithAsync(kit, "pipeline job etl: 1 item(s) in a stage's function or the dead letter");
        StringAssert.EndsWith(message, ": pipeline job etl: 1 item(s) in a stage's function or the dead letter.", "One reason per job: the first that holds.");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_PipelineDeadLetterStuck_NamesItUntilItReturns()
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        int delivered = 0;
        DeadLetterFunc deadLetter = async (_, _) =>
        {
            await release.Task;
            Interlocked.Increment(ref delivered);
        };
        kit.Add(Job.Pipeline("etl", channel.Reader, new PipelineOptions { DeadLetter = deadLetter })
            .Transform("parse", (int x) => x > 0 ? throw new FormatException("bad") : x)
            .Sink("write", (int _, CancellationToken _) => Task.CompletedTask));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);

        await BusyWithAsync(kit, "pipeline job etl: 1 item(s) in a stage's function or the dead letter");
        release.SetResult();
        await IdleAsync(kit);
        Assert.AreEqual(1, Volatile.Read(ref delivered));
    }

    [TestMethod]
    public async Task WaitUntilIdleAsync_PipelineOfAnObservable_IsIdleOnceEveryPushedItemIsHandled()
    {
        await using var kit = NewKit();
        var source = new TestObservable<int>();
        int handled = 0;
        kit.Add(Job.Pipeline("pushed", source).Sink("write", (int _, CancellationToken _) => Task.FromResult(Interlocked.Increment(ref handled))));
        await kit.Group.StartAsync(CancellationToken.None);
        IObserver<int> observer = await source.WaitForObserverAsync();

        observer.OnNext(1);
        observer.OnNext(2);
        observer.OnNext(3);
        await IdleAsync(kit);

        Assert.AreEqual(3, Volatile.Read(ref handled), "Items the source's buffer still holds keep the kit waiting.");
    }

    [TestMethod]
    [DataRow("transform-async")]
    [DataRow("transform-retries")]
    [DataRow("many-retries")]
    public async Task WaitUntilIdleAsync_PipelineMiddleStageStuck_NamesTheItemInTheStage(string kind)
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        var retry = new StageOptions { Retries = 1 };
        Pipeline<int> pipeline = Job.Pipeline("etl", channel.Reader);
        Pipeline<int> stuck = kind switch
        {
            "transform-async" => pipeline.Transform("wait", async (int x, CancellationToken _) =>
            {
                await release.Task;
                return x;
            }),
            "transform-retries" => pipeline.Transform(
                "wait",
                x =>
                {
                    release.Task.Wait();
                    return x;
                },
                retry),
            _ => pipeline.TransformMany(
                "wait",
                x =>
                {
                    release.Task.Wait();
                    return new[] { x };
                },
                retry),
        };
        kit.Add(stuck.Sink("write", (int _, CancellationToken _) => Task.CompletedTask));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);

        await BusyWithAsync(kit, "pipeline job etl: 1 item(s) in a stage's function or the dead letter");
        release.SetResult();
        await IdleAsync(kit);
    }

    [TestMethod]
    [DataRow("transform", "retry")]
    [DataRow("many", "retry")]
    [DataRow("sink", "retry")]
    [DataRow("before-the-sink", "map")]
    [DataRow("many-before-the-sink", "map")]
    [DataRow("batch-before-the-sink", "map")]
    public async Task WaitUntilIdleAsync_PipelineItemWaitsForARetry_NamesTheStageWhereTheOthersWait(string kind, string stage)
    {
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        int attempts = 0;
        var retry = new StageOptions { Retries = 1, Backoff = new ConstantBackoff(TimeSpan.FromMinutes(1)), BoundedCapacity = 1 };
        Func<int, int> failsOnce = x => x == 1 && Interlocked.Increment(ref attempts) == 1 ? throw new IOException("once") : x;
        ObserverFunc<int> write = (_, _) => Task.CompletedTask;
        ObserverFunc<int> writeOrFail = (x, _) =>
        {
            failsOnce(x);
            return Task.CompletedTask;
        };
        Pipeline<int> pipeline = Job.Pipeline("etl", channel.Reader);
        Job job = kind switch
        {
            "transform" => pipeline.Transform("retry", failsOnce, retry).Sink("write", write),
            "many" => pipeline.TransformMany("retry", x => new[] { failsOnce(x) }, retry).Sink("write", write),
            "sink" => pipeline.Sink("retry", writeOrFail, retry),
            "before-the-sink" => pipeline.Transform("map", x => x).Sink("retry", writeOrFail, retry),
            "many-before-the-sink" => pipeline.TransformMany("map", x => new[] { x }).Sink("retry", writeOrFail, retry),
            _ => pipeline.Batch("map", 1).Sink("retry", (batch, token) => writeOrFail(batch[0], token), retry),
        };
        kit.Add(job);
        await kit.Group.StartAsync(CancellationToken.None);

        // Item 1 waits a minute on the kit's clock for its retry: no function runs, yet the items
        // behind it wait in a stage (in front of the retrying one, or, when the sink retries and
        // its room is taken, in the output of the stage before it).
        for (int i = 1; i <= 5; i++)
        {
            channel.Writer.TryWrite(i);
        }

        await BusyWithAsync(kit, $"pipeline job etl: items wait in stage {stage}");
        kit.Time.Advance(TimeSpan.FromMinutes(1));
        await IdleAsync(kit);
    }

    [TestMethod]
    [DataRow("observer")]
    [DataRow("pipeline")]
    public async Task WaitUntilIdleAsync_UserCodeStartedATaskInsideABlock_NamesTheBlocksUntilTheTaskRan(string kind)
    {
        // The handler returns at once, but the task it started runs on the block's scheduler: the
        // job's work goes on, and the kit must not call it idle.
        await using var kit = NewKit();
        var channel = Channel.CreateUnbounded<int>();
        var release = new TaskCompletionSource();
        ObserverFunc<int> startsATask = (_, _) =>
        {
            _ = Task.Factory.StartNew(() => release.Task.Wait(Waits.Timeout));
            return Task.CompletedTask;
        };
        kit.Add(kind == "observer"
            ? Job.Observer("work", startsATask, channel.Reader)
            : Job.Pipeline("work", channel.Reader).Sink("write", startsATask));
        await kit.Group.StartAsync(CancellationToken.None);

        channel.Writer.TryWrite(1);

        await BusyWithAsync(kit, $"{kind} job work: its blocks are passing items on");
        release.SetResult();
        await IdleAsync(kit);
    }

    private static JobTestKit NewKit() => new(new JobTestKitOptions { Timeout = TimeSpan.FromMilliseconds(100) });

    /// <summary>Waits until the kit says idle; its own timeout is short for the waits that must fail, so it may take several tries.</summary>
    private static async Task IdleAsync(JobTestKit kit)
    {
        DateTime giveUp = DateTime.UtcNow + Waits.Timeout;
        while (true)
        {
            try
            {
                await kit.WaitUntilIdleAsync();
                return;
            }
            catch (TimeoutException) when (DateTime.UtcNow < giveUp)
            {
                // Still busy: a loaded machine may need longer than the kit's short timeout.
            }
        }
    }

    /// <summary>
    /// Waits until a wait for idle fails naming <paramref name="expected"/>, and returns that failure's
    /// message. Items move between blocks on the thread pool, so the first failures may catch them on
    /// their way.
    /// </summary>
    private static async Task<string> BusyWithAsync(JobTestKit kit, string expected)
    {
        string last = string.Empty;
        DateTime giveUp = DateTime.UtcNow + Waits.Timeout;
        while (DateTime.UtcNow < giveUp)
        {
            var error = await Assert.ThrowsExactlyAsync<TimeoutException>(() => kit.WaitUntilIdleAsync());
            last = error.Message;
            if (last.Contains(expected, StringComparison.Ordinal))
            {
                return last;
            }
        }

        Assert.Fail($"The kit never named \"{expected}\"; last: {last}");
        return last;
    }

    /// <summary>A stream whose first pull blocks its caller's thread until the gate opens, then ends: a source written synchronously.</summary>
    private sealed class BlockingStream(ManualResetEventSlim gate) : IAsyncEnumerable<int>, IAsyncEnumerator<int>
    {
        public int Current => 0;

        public IAsyncEnumerator<int> GetAsyncEnumerator(CancellationToken cancellationToken = default) => this;

        public ValueTask<bool> MoveNextAsync()
        {
            gate.Wait(Waits.Timeout);
            return ValueTask.FromResult(false);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A channel whose write does not wake the waiting reader until the test says so; it tells it holds items by peeking or by counting.</summary>
    private sealed class HeldWakeReader(bool canPeek) : ChannelReader<int>
    {
        private readonly ConcurrentQueue<int> _items = new();
        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<bool> _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool CanPeek => canPeek;

        public override bool CanCount => !canPeek;

        public override int Count => canPeek ? throw new NotSupportedException() : _items.Count;

        /// <summary>Gets a task that completes once the reader waits on an empty channel.</summary>
        public Task Waiting => _waiting.Task;

        public void WriteWithoutWaking(int item) => _items.Enqueue(item);

        public void Wake() => Interlocked.Exchange(ref _wake, new(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult(true);

        public override bool TryPeek(out int item) => canPeek ? _items.TryPeek(out item) : throw new NotSupportedException();

        public override bool TryRead(out int item) => _items.TryDequeue(out item);

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
        {
            if (!_items.IsEmpty)
            {
                return new(true);
            }

            Task<bool> wake = Volatile.Read(ref _wake).Task.WaitAsync(cancellationToken);
            _waiting.TrySetResult();
            return new(wake);
        }
    }
}
