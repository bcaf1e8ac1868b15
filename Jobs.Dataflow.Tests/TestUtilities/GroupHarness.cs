using System.Collections.Concurrent;
using Jobs.Dataflow.Testing;
using Moq;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A registry and one group wired to test doubles: the test kit's clock, captured logs, recorded
/// health, and Moq mocks of the shutdowner and metrics, with the kit's waits on the group.
/// Disposing it stops the group.
/// </summary>
/// <remarks>
/// The registry tracks idleness for the kit only when the environment variable
/// <c>JOBS_DATAFLOW_TESTS_TRACK_IDLE</c> is <c>1</c>: by default the suite runs the library as users
/// run it, and CI runs it a second time with the kit's tracking on.
/// </remarks>
internal sealed class GroupHarness : IAsyncDisposable
{
    public GroupHarness(JobGroupOptions? options = null)
    {
        Registry = new JobRegistry(Logs.Factory, Shutdowner.Object, Time, Metrics.Object) { GraceClock = Grace, TracksIdle = TracksIdle };
        Group = Registry.NewGroup(Health, options);
        Waits = new IdleWaiter((JobGroup)Group, Time, TimeSpan.FromSeconds(30));
    }

    /// <summary>Gets a value indicating whether harnesses track idleness for the kit in this run of the suite.</summary>
    public static bool TracksIdle { get; } = Environment.GetEnvironmentVariable("JOBS_DATAFLOW_TESTS_TRACK_IDLE") == "1";

    public TestTimeProvider Time { get; } = new();

    /// <summary>Gets the clock of the grace a stopped observer gives a source that ignores cancellation (the system clock outside tests).</summary>
    public TestTimeProvider Grace { get; } = new();

    public LogCapture Logs { get; } = new();

    public RecordingHealth Health { get; } = new();

    public Mock<IShutdowner> Shutdowner { get; } = new();

    public Mock<IJobMetrics> Metrics { get; } = new();

    public JobRegistry Registry { get; }

    public IJobGroup Group { get; }

    /// <summary>Gets the test kit's waits on the group: until idle, across a span of <see cref="Time"/>, for a timer to be armed.</summary>
    public IdleWaiter Waits { get; }

    private ConcurrentDictionary<string, Job> Jobs { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds jobs to the group and remembers them by name, for <see cref="WaitForEndAsync"/>.</summary>
    public void Add(params Job[]? jobs)
    {
        // Null arguments go through as given: some tests check that the group rejects them.
        foreach (Job? job in jobs ?? [])
        {
            if (job is not null)
            {
                Jobs[job.Name] = job;
            }
        }

        Group.Add(jobs!);
    }

    /// <summary>Waits until the job added as <paramref name="name"/> has ended and reported its final health.</summary>
    public Task WaitForEndAsync(string name) => Jobs[name].Completion.OrTimeout();

    public Task StartAsync() => Group.StartAsync(CancellationToken.None);

    /// <summary>
    /// Sets up the shutdowner to record its first call: the error it got, and the health reports
    /// made before it, so a test can check what a job reported before it asked the application to stop.
    /// </summary>
    /// <returns>A task that completes at the first call to <see cref="IShutdowner.Shutdown"/>.</returns>
    public Task<ShutdownCall> RecordShutdown()
    {
        var called = new TaskCompletionSource<ShutdownCall>(TaskCreationOptions.RunContinuationsAsynchronously);
        Shutdowner.Setup(s => s.Shutdown(It.IsAny<Exception?>())).Callback<Exception?>(error => called.TrySetResult(new ShutdownCall(error, Health.Reports)));
        return called.Task;
    }

    public Task StopAsync() => Group.StopAsync(CancellationToken.None).OrTimeout();

    public async ValueTask DisposeAsync() => await StopAsync();
}
