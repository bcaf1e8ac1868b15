using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Sources;

/// <summary>
/// The handler's count that a pump waits on while a full block drains by half: a wait must end
/// once the handler started enough items, and end with false when the handler never will.
/// </summary>
[TestClass]
public sealed class HandlerRoomTests
{
    [TestMethod]
    public async Task WaitAsync_TheHandlerStartsTheTarget_CompletesWithTrueThen()
    {
        var room = new HandlerRoom(half: 2, parallel: false, CancellationToken.None);
        room.Started();

        ValueTask<bool> wait = room.WaitAsync(3);
        room.Started();
        Assert.IsFalse(wait.IsCompleted, "Two items started, the wait is for three.");
        room.Started();

        Assert.IsTrue(await wait.AsTask().OrTimeout());
    }

    [TestMethod]
    [DataRow(2L)]
    [DataRow(0L)]
    [DataRow(-5L)]
    public async Task WaitAsync_TheTargetIsReachedAlready_CompletesAtOnceWithTrue(long target)
    {
        var room = new HandlerRoom(half: 2, parallel: false, CancellationToken.None);
        room.Started();
        room.Started();

        ValueTask<bool> wait = room.WaitAsync(target);

        Assert.IsTrue(wait.IsCompleted);
        Assert.IsTrue(await wait);
    }

    [TestMethod]
    public async Task WaitAsync_TheTokenIsCancelled_CompletesWithFalse()
    {
        using var cancellation = new CancellationTokenSource();
        var room = new HandlerRoom(half: 2, parallel: false, cancellation.Token);
        ValueTask<bool> wait = room.WaitAsync(5);

        await cancellation.CancelAsync();

        Assert.IsFalse(await wait.AsTask().OrTimeout());
        Assert.IsFalse(await room.WaitAsync(6).AsTask().OrTimeout(), "A wait armed after the cancellation waited.");
    }

    [TestMethod]
    public async Task Close_WhileAWaitIsArmed_EndsItAndEveryLaterOneWithFalse()
    {
        var room = new HandlerRoom(half: 2, parallel: false, CancellationToken.None);
        ValueTask<bool> wait = room.WaitAsync(5);

        room.Close();

        Assert.IsFalse(await wait.AsTask().OrTimeout());
        ValueTask<bool> later = room.WaitAsync(6);
        Assert.IsTrue(later.IsCompleted);
        Assert.IsFalse(await later);
    }

    [TestMethod]
    public async Task TryDisarm_TheWaitIsNotEndedLater_AndTheNextWaitWorks()
    {
        var room = new HandlerRoom(half: 2, parallel: false, CancellationToken.None);
        _ = room.WaitAsync(1);

        Assert.IsTrue(room.TryDisarm());
        room.Started();
        room.Started();
        ValueTask<bool> next = room.WaitAsync(4);
        room.Started();
        Assert.IsFalse(next.IsCompleted, "The disarmed wait's target ended the next wait.");
        room.Started();

        Assert.IsTrue(await next.AsTask().OrTimeout());
        Assert.IsFalse(room.TryDisarm(), "Nothing is armed once a wait ended.");
    }

    [TestMethod]
    public async Task TryDisarm_RacingTheHandler_EitherDisarmsOrTheWaitEnds()
    {
        var room = new HandlerRoom(half: 2, parallel: false, CancellationToken.None);
        for (int round = 1; round <= 5_000; round++)
        {
            ValueTask<bool> wait = room.WaitAsync(round);
            Task handler = Task.Run(room.Started);
            bool disarmed = room.TryDisarm();
            await handler.OrTimeout();

            if (!disarmed)
            {
                Assert.IsTrue(await wait.AsTask().OrTimeout(), $"Round {round}: not disarmed, yet the wait did not end with room.");
            }
        }
    }

    [TestMethod]
    public async Task Started_OnSeveralThreadsAtOnce_EndsTheWaitOnceWhenAllStarted()
    {
        const int Threads = 2;
        const int Each = 1_000_000;
        var room = new HandlerRoom(half: 2, parallel: true, CancellationToken.None);
        ValueTask<bool> wait = room.WaitAsync(Threads * Each);
        using var together = new Barrier(Threads);

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(
            () =>
            {
                together.SignalAndWait();
                for (int i = 0; i < Each; i++)
                {
                    room.Started();
                }
            },
            TaskCreationOptions.LongRunning))).OrTimeout();

        Assert.IsTrue(await wait.AsTask().OrTimeout());
        Assert.IsTrue(room.WaitAsync(Threads * Each).IsCompleted, "A started item was lost to a race.");
    }

    [TestMethod]
    [DataRow(3, 1)]
    [DataRow(9, -1)]
    [DataRow(9, 4)]
    [DataRow(8, 4)]
    public void ForBlock_BlockTooSmallOrTooParallel_OpensNoCount(int bound, int parallelism)
    {
        // A block of 3, or one that starts half its items at once or more: the pump's wait for half
        // of it would end at once or nearly, so it waits per slot instead.
        Assert.IsNull(HandlerRoom.ForBlock(bound, parallelism, CancellationToken.None));
    }

    [TestMethod]
    [DataRow(4, 1, 2)]
    [DataRow(65, 1, 32)]
    [DataRow(9, 3, 4)]
    public void ForBlock_BlockWorthWaitingFor_WaitsForHalfOfIt(int bound, int parallelism, int half)
    {
        HandlerRoom? room = HandlerRoom.ForBlock(bound, parallelism, CancellationToken.None);

        Assert.IsNotNull(room);
        Assert.AreEqual(half, room.Half);
    }
}
