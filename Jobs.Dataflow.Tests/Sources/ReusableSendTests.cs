using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Sources;

/// <summary>
/// The pump's wait for room in a full block: it must keep every promise of <c>SendAsync</c> (an
/// item is taken once or refused, a cancelled wait gives its item to nobody, a completed block ends
/// the wait) while one source object serves every wait.
/// </summary>
[TestClass]
public sealed class ReusableSendTests
{
    [TestMethod]
    public async Task SendAsync_TheBlockHasRoom_CompletesAtOnceWithTrue()
    {
        var block = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 1 });
        var send = new ReusableSend<int>(block, CancellationToken.None);

        ValueTask<bool> sent = send.SendAsync(7);

        Assert.IsTrue(sent.IsCompletedSuccessfully);
        Assert.IsTrue(await sent);
        Assert.AreEqual(7, await block.ReceiveAsync().OrTimeout());
    }

    [TestMethod]
    public async Task SendAsync_TheBlockIsFull_WaitsUntilTheBlockTakesTheItem()
    {
        var block = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 1 });
        var send = new ReusableSend<int>(block, CancellationToken.None);
        Assert.IsTrue(await send.SendAsync(1));

        ValueTask<bool> sent = send.SendAsync(2);

        Assert.IsFalse(sent.IsCompleted, "The block is full.");
        Assert.AreEqual(1, await block.ReceiveAsync().OrTimeout());
        Assert.IsTrue(await sent.AsTask().OrTimeout());
        Assert.AreEqual(2, await block.ReceiveAsync().OrTimeout());
    }

    [TestMethod]
    [DataRow("buffer")]
    [DataRow("action")]
    [DataRow("batch")]
    public async Task SendAsync_ManyWaitsInTurn_TheBlockGetsEveryItemOnceAndInOrder(string kind)
    {
        const int Items = 5_000;
        var received = new List<int>();
        (ITargetBlock<int> target, Task done) = Consumer(kind, received);
        var send = new ReusableSend<int>(target, new CancellationTokenSource().Token);

        for (int i = 0; i < Items; i++)
        {
            Assert.IsTrue(await send.SendAsync(i).AsTask().OrTimeout(), $"Item {i} was refused.");
        }

        target.Complete();
        await done.OrTimeout();
        send.Dispose();

        CollectionAssert.AreEqual(Enumerable.Range(0, Items).ToList(), received);
    }

    [TestMethod]
    public async Task SendAsync_TheTokenIsCancelledWhileItWaits_CompletesWithFalseAndTheBlockNeverGetsTheItem()
    {
        var block = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 1 });
        using var cancellation = new CancellationTokenSource();
        var send = new ReusableSend<int>(block, cancellation.Token);
        Assert.IsTrue(await send.SendAsync(1));
        ValueTask<bool> sent = send.SendAsync(2);

        await cancellation.CancelAsync();

        Assert.IsFalse(await sent.AsTask().OrTimeout());
        block.Complete();
        Assert.AreEqual(1, await block.ReceiveAsync().OrTimeout());
        await block.Completion.OrTimeout();
        Assert.AreEqual(0, block.Count, "The refused item reached the block.");
    }

    [TestMethod]
    public async Task SendAsync_TheTokenIsCancelledAlready_CompletesWithFalseAndOffersNothing()
    {
        var block = new BufferBlock<int>();
        var send = new ReusableSend<int>(block, new CancellationToken(canceled: true));

        Assert.IsFalse(await send.SendAsync(1));
        Assert.AreEqual(0, block.Count);
    }

    [TestMethod]
    public async Task SendAsync_TheBlockCompletesWhileItWaits_CompletesWithFalse()
    {
        var block = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 1 });
        var send = new ReusableSend<int>(block, new CancellationTokenSource().Token);
        Assert.IsTrue(await send.SendAsync(1));
        ValueTask<bool> sent = send.SendAsync(2);

        // The block releases what it postponed: offered again, the item is declined for good.
        block.Complete();

        Assert.IsFalse(await sent.AsTask().OrTimeout());
        Assert.AreEqual(1, await block.ReceiveAsync().OrTimeout());
        await block.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task SendAsync_TheBlockHasCompleted_CompletesAtOnceWithFalse()
    {
        var block = new BufferBlock<int>();
        block.Complete();
        var send = new ReusableSend<int>(block, CancellationToken.None);

        ValueTask<bool> sent = send.SendAsync(1);

        Assert.IsTrue(sent.IsCompletedSuccessfully);
        Assert.IsFalse(await sent);
    }

    [TestMethod]
    public async Task SendAsync_TheBlockThrowsFromItsOffer_CompletesWithFalse()
    {
        var target = new ScriptedTarget { Throws = true };
        var send = new ReusableSend<int>(target, CancellationToken.None);

        Assert.IsFalse(await send.SendAsync(1).AsTask().OrTimeout());
    }

    [TestMethod]
    public async Task SendAsync_TheBlockThrowsFromItsFirstOffer_CompletesAtOnceWithFalse()
    {
        var target = new ScriptedTarget { ThrowsOnDirectOffers = true };
        var send = new ReusableSend<int>(target, CancellationToken.None);

        ValueTask<bool> sent = send.SendAsync(1);

        Assert.IsTrue(sent.IsCompletedSuccessfully);
        Assert.IsFalse(await sent);
        Assert.AreEqual(0, target.Offers);
    }

    [TestMethod]
    public async Task SendAsync_TheTokenIsCancelledDuringTheFirstOffer_CompletesWithFalseAndWaitsForNothing()
    {
        using var cancellation = new CancellationTokenSource();
        var target = new ScriptedTarget { OnDirectOffer = cancellation.Cancel };
        var send = new ReusableSend<int>(target, cancellation.Token);

        Assert.IsFalse(await send.SendAsync(1).AsTask().OrTimeout());
        Assert.AreEqual(0, target.Offers, "The item was offered for later after the cancellation.");
    }

    [TestMethod]
    public async Task SendAsync_TheBlockFaultsWhileItWaits_CompletesWithFalse()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var block = new ActionBlock<int>(
            async _ =>
            {
                await gate.Task;
                throw new InvalidOperationException("The handler failed.");
            },
            new ExecutionDataflowBlockOptions { BoundedCapacity = 1 });
        var send = new ReusableSend<int>(block, new CancellationTokenSource().Token);
        Assert.IsTrue(await send.SendAsync(1));
        ValueTask<bool> sent = send.SendAsync(2);
        Assert.IsFalse(sent.IsCompleted, "The block is full.");

        gate.SetResult();

        Assert.IsFalse(await sent.AsTask().OrTimeout());
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => block.Completion.OrTimeout());
    }

    [TestMethod]
    public async Task SendAsync_CancellationRacesTheBlockTakingTheItem_TheWaitSaysTrueExactlyWhenTheBlockGotIt()
    {
        for (int round = 0; round < 2_000; round++)
        {
            var block = new BufferBlock<int>(new DataflowBlockOptions { BoundedCapacity = 1 });
            using var cancellation = new CancellationTokenSource();
            var send = new ReusableSend<int>(block, cancellation.Token);
            Assert.IsTrue(await send.SendAsync(1));
            ValueTask<bool> sent = send.SendAsync(2);

            Task cancel = Task.Run(cancellation.Cancel);
            Assert.AreEqual(1, await block.ReceiveAsync().OrTimeout());
            await cancel.OrTimeout();
            bool taken = await sent.AsTask().OrTimeout();
            block.Complete();
            var rest = new List<int>();
            while (await block.OutputAvailableAsync().OrTimeout())
            {
                rest.Add(block.Receive());
            }

            Assert.AreEqual(taken, rest.Contains(2), $"Round {round}: the wait said {taken}.");
        }
    }

    [TestMethod]
    public async Task ConsumeMessage_TheBlockCallsInsideItsLock_TheWaitResumesOutsideIt()
    {
        var target = new ScriptedTarget();
        var send = new ReusableSend<int>(target, CancellationToken.None);
        ValueTask<bool> sent = send.SendAsync(5);
        var resumedInsideTheLock = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task waiter = WaitAsync();

        lock (target)
        {
            Assert.AreEqual(5, target.Consume(target.LastHeader, out bool consumed));
            Assert.IsTrue(consumed);
        }

        Assert.IsFalse(await resumedInsideTheLock.OrTimeout(), "The wait resumed inside the block's call.");
        await waiter.OrTimeout();

        async Task WaitAsync()
        {
            await sent;
            resumedInsideTheLock.SetResult(Monitor.IsEntered(target));
        }
    }

    [TestMethod]
    public async Task ConsumeMessage_AnEarlierOfferOrAnEndedWait_ConsumesNothing()
    {
        var target = new ScriptedTarget();
        using var cancellation = new CancellationTokenSource();
        var send = new ReusableSend<int>(target, cancellation.Token);
        ValueTask<bool> first = send.SendAsync(1);
        DataflowMessageHeader firstHeader = target.LastHeader;
        target.Consume(firstHeader, out _);
        Assert.IsTrue(await first.AsTask().OrTimeout());
        ValueTask<bool> second = send.SendAsync(2);

        target.Consume(firstHeader, out bool consumedByAnEarlierHeader);
        await cancellation.CancelAsync();
        Assert.IsFalse(await second.AsTask().OrTimeout());
        target.Consume(target.LastHeader, out bool consumedAfterTheCancel);

        Assert.IsFalse(consumedByAnEarlierHeader, "The header of an earlier offer took the item of a later one.");
        Assert.IsFalse(consumedAfterTheCancel, "A cancelled item was taken.");
    }

    [TestMethod]
    public async Task ReserveMessage_CancelledWhileReserved_TheBlockStillGetsTheItem()
    {
        var target = new ScriptedTarget();
        using var cancellation = new CancellationTokenSource();
        var send = new ReusableSend<int>(target, cancellation.Token);
        ValueTask<bool> sent = send.SendAsync(3);

        Assert.IsTrue(target.Reserve(target.LastHeader));
        await cancellation.CancelAsync();
        Assert.IsFalse(sent.IsCompleted, "A reservation is honoured: the cancellation must wait for the block's decision.");
        Assert.AreEqual(3, target.Consume(target.LastHeader, out bool consumed));

        Assert.IsTrue(consumed);
        Assert.IsTrue(await sent.AsTask().OrTimeout());
    }

    [TestMethod]
    public async Task ReleaseReservation_AfterACancellation_EndsTheWaitWithFalse()
    {
        var target = new ScriptedTarget();
        using var cancellation = new CancellationTokenSource();
        var send = new ReusableSend<int>(target, cancellation.Token);
        ValueTask<bool> sent = send.SendAsync(3);
        Assert.IsTrue(target.Reserve(target.LastHeader));
        await cancellation.CancelAsync();

        target.Release(target.LastHeader);

        Assert.IsFalse(await sent.AsTask().OrTimeout());
        Assert.AreEqual(1, target.Offers, "A cancelled item was offered again.");
    }

    [TestMethod]
    public async Task ReleaseReservation_TheItemIsOfferedAgainAndTakenOnce()
    {
        var target = new ScriptedTarget();
        var send = new ReusableSend<int>(target, CancellationToken.None);
        ValueTask<bool> sent = send.SendAsync(4);
        Assert.IsTrue(target.Reserve(target.LastHeader));

        target.Release(target.LastHeader);
        await target.Offered(2).OrTimeout();

        Assert.IsFalse(sent.IsCompleted, "The item was released, not taken.");
        Assert.AreEqual(4, target.Consume(target.LastHeader, out bool consumed));
        Assert.IsTrue(consumed);
        Assert.IsTrue(await sent.AsTask().OrTimeout());
        target.Consume(target.LastHeader, out bool consumedTwice);
        Assert.IsFalse(consumedTwice);
    }

    [TestMethod]
    public async Task ReleaseReservation_OfAnOfferWhoseWaitEnded_DoesNothing()
    {
        var target = new ScriptedTarget();
        using var cancellation = new CancellationTokenSource();
        var send = new ReusableSend<int>(target, cancellation.Token);
        ValueTask<bool> sent = send.SendAsync(3);
        await cancellation.CancelAsync();
        Assert.IsFalse(await sent.AsTask().OrTimeout());

        target.Release(target.LastHeader);

        Assert.AreEqual(1, target.Offers, "An item whose wait ended was offered again.");
    }

    [TestMethod]
    public void ReleaseReservation_NotReserved_Throws()
    {
        var target = new ScriptedTarget();
        var send = new ReusableSend<int>(target, CancellationToken.None);
        _ = send.SendAsync(4);

        Assert.ThrowsExactly<InvalidOperationException>(() => target.Release(target.LastHeader));
    }

    [TestMethod]
    public void LinkToCompleteAndFault_AreNotSupported()
    {
        ISourceBlock<int> source = new ReusableSend<int>(new BufferBlock<int>(), CancellationToken.None);

        Assert.ThrowsExactly<NotSupportedException>(() => source.LinkTo(new BufferBlock<int>()));
        Assert.ThrowsExactly<NotSupportedException>(source.Complete);
        Assert.ThrowsExactly<NotSupportedException>(() => source.Fault(new InvalidOperationException()));
        Assert.IsFalse(source.Completion.IsCompleted);
    }

    /// <summary>A block that takes items one at a time (capacity 1), so nearly every send waits, and records what it took.</summary>
    private static (ITargetBlock<int> Target, Task Done) Consumer(string kind, List<int> received)
    {
        var options = new ExecutionDataflowBlockOptions { BoundedCapacity = 1 };
        switch (kind)
        {
            case "action":
                var action = new ActionBlock<int>(received.Add, options);
                return (action, action.Completion);
            case "batch":
                var batch = new BatchBlock<int>(2, new GroupingDataflowBlockOptions { BoundedCapacity = 2 });
                var batches = new ActionBlock<int[]>(items => received.AddRange(items), options);
                batch.LinkTo(batches, new DataflowLinkOptions { PropagateCompletion = true });
                return (batch, batches.Completion);
            default:
                var buffer = new BufferBlock<int>(options);
                var reader = new ActionBlock<int>(received.Add, options);
                buffer.LinkTo(reader, new DataflowLinkOptions { PropagateCompletion = true });
                return (buffer, reader.Completion);
        }
    }

    /// <summary>
    /// A block that declines every direct offer (it is full) and postpones every offer that names a
    /// source, so a test decides when it reserves, consumes or releases.
    /// </summary>
    private sealed class ScriptedTarget : ITargetBlock<int>
    {
        private readonly Lock _offersLock = new();
        private readonly List<(int Count, TaskCompletionSource Reached)> _waits = [];
        private ISourceBlock<int>? _source;
        private int _offers;

        public bool Throws { get; init; }

        public bool ThrowsOnDirectOffers { get; init; }

        public Action? OnDirectOffer { get; init; }

        public DataflowMessageHeader LastHeader { get; private set; }

        public int Offers => Volatile.Read(ref _offers);

        public Task Completion => Task.CompletedTask;

        public DataflowMessageStatus OfferMessage(DataflowMessageHeader messageHeader, int messageValue, ISourceBlock<int>? source, bool consumeToAccept)
        {
            if (Throws && source is not null)
            {
                throw new InvalidOperationException("A faulty block.");
            }

            if (source is null)
            {
                OnDirectOffer?.Invoke();
                return ThrowsOnDirectOffers ? throw new InvalidOperationException("A faulty block.") : DataflowMessageStatus.Declined;
            }

            _source = source;
            LastHeader = messageHeader;
            lock (_offersLock)
            {
                _offers++;
                foreach ((int count, TaskCompletionSource reached) in _waits)
                {
                    if (_offers >= count)
                    {
                        reached.TrySetResult();
                    }
                }
            }

            return DataflowMessageStatus.Postponed;
        }

        public Task Offered(int count)
        {
            lock (_offersLock)
            {
                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waits.Add((count, reached));
                if (_offers >= count)
                {
                    reached.TrySetResult();
                }

                return reached.Task;
            }
        }

        public int Consume(DataflowMessageHeader header, out bool consumed) => _source!.ConsumeMessage(header, this, out consumed);

        public bool Reserve(DataflowMessageHeader header) => _source!.ReserveMessage(header, this);

        public void Release(DataflowMessageHeader header) => _source!.ReleaseReservation(header, this);

        public void Complete()
        {
        }

        public void Fault(Exception exception)
        {
        }
    }
}
