using System.Threading.Tasks.Dataflow;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Sources;

/// <summary>
/// What a pump tells a test kit about its source at each step of a wait: a kit that waits for idle
/// must not call a job idle while an item its source returned is still on its way to the handler.
/// </summary>
[TestClass]
public sealed class PumpTests
{
    [TestMethod]
    public async Task IsAtRest_WhileTracked_IsTrueWhileItsWaitIsInFlightAndOnceItEnded()
    {
        var registry = new JobRegistry(timeProvider: new TestTimeProvider()) { TracksIdle = true };
        var group = (JobGroup)registry.NewGroup(new HealthTree());
        var context = new JobContext(Job.OneShot("pump", (_, _) => Task.CompletedTask), NullHealth.Instance, group);
        var feed = new SourceFeed<int>(context, new BufferBlock<int>(), drain: false);
        var wait = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pump = new OneWaitPump(feed, wait.Task);

        pump.Start();
        await pump.Waiting.OrTimeout();
        Assert.IsTrue(pump.IsAtRest, "Its wait is in flight.");
        wait.SetResult(true);
        await feed.WaitForReleaseAsync().OrTimeout();

        Assert.IsFalse(pump.AtRestBeforeItsWait, "It runs before its first wait: it may be taking an item.");
        Assert.IsFalse(pump.AtRestOnceItsWaitCompleted, "The wait completed: the item is at hand until the pump hands it on.");
        Assert.IsFalse(pump.AtRestAfterItsWait, "It runs again, with the item in its hand.");
        Assert.IsTrue(pump.IsAtRest, "It ended and let go of its source: nothing more comes from it.");
    }

    /// <summary>A pump that waits once for a task the test completes, then ends, noting what it tells a kit at each step.</summary>
    private sealed class OneWaitPump(SourceFeed<int> feed, Task<bool> wait) : Pump<int>(feed, pullTakesItems: true)
    {
        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Waiting => _waiting.Task;

        public bool AtRestBeforeItsWait { get; private set; }

        public bool AtRestOnceItsWaitCompleted { get; private set; }

        public bool AtRestAfterItsWait { get; private set; }

        protected override async Task PumpAsync()
        {
            AtRestBeforeItsWait = IsAtRest;
            BeginWait();
            ValueTask<bool> pending = AwaitSource(new ValueTask<bool>(wait));
            _waiting.SetResult();
            await pending;
            AtRestOnceItsWaitCompleted = IsAtRest;
            EndWait();
            AtRestAfterItsWait = IsAtRest;
        }
    }
}
