using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Timer;

/// <summary>What a test kit is told keeps a timer job busy.</summary>
[TestClass]
public sealed class TimerBusyTests
{
    [TestMethod]
    public async Task DescribeBusy_TimerStillStarting_NamesTheJobStarting()
    {
        var time = new TestTimeProvider();
        var health = new PrimedGate();
        var group = (JobGroup)new JobRegistry(timeProvider: time).NewGroup(health);
        group.Add(Job.Timer("refresh", _ => Task.CompletedTask, TimeSpan.FromMinutes(1)));
        await group.StartAsync(CancellationToken.None);

        // The job reports Primed just before it has finished starting; the gate holds it there.
        await health.Reached.OrTimeout();
        CollectionAssert.AreEqual(new[] { "timer job refresh: starting" }, group.DescribeBusy());

        health.Open.Set();
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    /// <summary>A health whose scopes hold the thread that reports Primed until <see cref="Open"/> is set.</summary>
    private sealed class PrimedGate : IHealth
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Open { get; } = new();

        public void Ok(string status)
        {
            if (status == "Primed")
            {
                Reached.TrySetResult();
                Open.Wait(Waits.Timeout);
            }
        }

        public void Stopped(string reason)
        {
        }

        public void Degraded(string reason, Exception? error)
        {
        }

        public void Failed(string reason, Exception? error)
        {
        }

        public IHealth NewScope(string name) => this;

        public void Close()
        {
        }
    }
}
