using System.Threading.Channels;
using Jobs.Dataflow.Tests.TestUtilities;

namespace Jobs.Dataflow.Tests.Groups;

/// <summary>
/// docs/behaviour.md#rule-6 for every kind of job: whichever way user code throws (at once, through a
/// faulted task, after an await, once the job's token is cancelled, from a source), the job observes
/// it, so no faulted task is left for the finalizer to report as unobserved.
/// </summary>
[TestClass]
public sealed class UnobservedTaskTests
{
    [TestMethod]
    [DataRow("one-shot")]
    [DataRow("timer")]
    [DataRow("observer from a channel")]
    [DataRow("observer from a stream")]
    [DataRow("observer from an observable")]
    public async Task Run_UserCodeThrowsInEveryWay_NoTaskIsLeftUnobserved(string kind)
    {
        // Other tests run in parallel: only this test's exceptions count.
        Exception[] unobserved = await UnobservedExceptions.LeftByAsync<UserException>(() => RunAsync(kind));

        Assert.IsEmpty(unobserved, string.Join(Environment.NewLine, unobserved));
    }

    /// <summary>Runs jobs of <paramref name="kind"/> whose user code throws in every way, until they all ended.</summary>
    private static async Task RunAsync(string kind)
    {
        await using var harness = new GroupHarness();
        Task ran = kind switch
        {
            "one-shot" => RunOneShotsAsync(harness),
            "timer" => RunTimerAsync(harness),
            "observer from a channel" => RunChannelObserverAsync(harness),
            "observer from a stream" => RunStreamObserverAsync(harness),
            _ => RunObservableObserverAsync(harness),
        };
        await ran;
        await harness.StopAsync();
    }

    private static async Task RunOneShotsAsync(GroupHarness harness)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(
            Job.OneShot("at-once", (_, _) => throw new UserException("at once")),
            Job.OneShot("faulted", (_, _) => Task.FromException(new UserException("faulted"))),
            Job.OneShot("after-await", async (_, _) =>
            {
                await Task.Yield();
                throw new UserException("after an await");
            }),
            Job.OneShot("after-cancellation", async (_, token) =>
            {
                cancelled.SetResult();
                await token.WhenCancelled();
                throw new UserException("after cancellation");
            }));

        await harness.StartAsync();
        await Task.WhenAll(harness.WaitForEndAsync("at-once"), harness.WaitForEndAsync("faulted"), harness.WaitForEndAsync("after-await"), cancelled.OrTimeout());
    }

    private static async Task RunTimerAsync(GroupHarness harness)
    {
        var ticks = new SemaphoreSlim(0);
        int tick = 0;
        await harness.StartTimerAsync(
            "ticker",
            async _ =>
            {
                ticks.Release();
                switch (Interlocked.Increment(ref tick))
                {
                    case 1:
                        throw new UserException("at once");
                    case 2:
                        await Task.FromException(new UserException("faulted"));
                        break;
                    default:
                        await Task.Yield();
                        throw new UserException("after an await");
                }
            },
            TimeSpan.FromSeconds(1));

        for (int i = 0; i < 3; i++)
        {
            harness.Time.Advance(TimeSpan.FromSeconds(1));
            await ticks.WaitOrTimeout();
        }
    }

    private static async Task RunChannelObserverAsync(GroupHarness harness)
    {
        var channel = Channel.CreateUnbounded<int>();
        harness.Add(Job.Observer("obs", ThrowingHandler, channel.Reader));
        await harness.StartAsync();
        for (int i = 0; i < 3; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete(new UserException("source faulted"));
        await harness.WaitForEndAsync("obs");
    }

    private static async Task RunStreamObserverAsync(GroupHarness harness)
    {
        harness.Add(Job.Observer("obs", ThrowingHandler, FaultingStream()));
        await harness.StartAsync();
        await harness.WaitForEndAsync("obs");
    }

    private static async Task RunObservableObserverAsync(GroupHarness harness)
    {
        var source = new TestObservable<int>();
        harness.Add(Job.Observer("obs", ThrowingHandler, source));
        await harness.StartAsync();
        IObserver<int> observer = await source.WaitForObserverAsync();
        for (int i = 0; i < 3; i++)
        {
            observer.OnNext(i);
        }

        observer.OnError(new UserException("source faulted"));
        await harness.WaitForEndAsync("obs");
    }

    /// <summary>Throws for item 0 at once, faults for item 1, and throws after an await for the rest.</summary>
    private static Task ThrowingHandler(int item, CancellationToken cancellationToken) => item switch
    {
        0 => throw new UserException("at once"),
        1 => Task.FromException(new UserException("faulted")),
        _ => ThrowAfterAwaitAsync(),
    };

    private static async Task ThrowAfterAwaitAsync()
    {
        await Task.Yield();
        throw new UserException("after an await");
    }

    private static async IAsyncEnumerable<int> FaultingStream()
    {
        for (int i = 0; i < 3; i++)
        {
            await Task.Yield();
            yield return i;
        }

        throw new UserException("source faulted");
    }

    private sealed class UserException(string message) : Exception(message);
}
