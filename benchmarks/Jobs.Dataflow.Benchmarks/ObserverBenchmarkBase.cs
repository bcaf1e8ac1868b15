using BenchmarkDotNet.Attributes;
using Jobs.Dataflow;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// What the observer benchmarks share: a started group the jobs are added to (its health a real
/// <see cref="HealthTree"/>, as in an application), a synchronous handler that counts items and
/// signals when it has seen all of them, and the choice of being observed by a metrics listener.
/// </summary>
/// <remarks>
/// Each iteration moves a million items once (<c>InvocationCount = 1</c>), so the classes deriving
/// from it warm up for 10 iterations: with 3, pinned to one core, both sides still ran code the JIT had not yet
/// optimized (the background compiler shares that core) and the ratio compared two slow paths.
/// </remarks>
public abstract class ObserverBenchmarkBase
{
    /// <summary>The items each operation moves.</summary>
    public const int Items = 1_000_000;

    private Observation _observation = null!;
    private JobRegistry _registry = null!;
    private TaskCompletionSource _seenAll = null!;
    private int _seen;

    protected ObserverBenchmarkBase()
    {
        Handler = Handle;
    }

    /// <summary>Gets or sets a value indicating whether a metrics listener takes every measurement of the library's instruments.</summary>
    [Params(false, true)]
    public bool Observed { get; set; }

    /// <summary>Gets the handler: bound once, so no run allocates a delegate for it.</summary>
    protected ObserverFunc<int> Handler { get; }

    protected IJobGroup Group { get; private set; } = null!;

    /// <summary>Gets a task that completes when the handler has seen <see cref="Items"/> items since <see cref="ResetCount"/>.</summary>
    protected Task SeenAll => _seenAll.Task;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _observation = Observation.Create(Observed);
        _registry = _observation.NewRegistry();
        Group = _registry.NewGroup(new HealthTree("benchmarks"));
        Group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        Group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _observation.Dispose();
    }

    protected void ResetCount()
    {
        _seen = 0;
        _seenAll = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private Task Handle(int item, CancellationToken cancellationToken)
    {
        if (++_seen == Items)
        {
            _seenAll.TrySetResult();
        }

        return Task.CompletedTask;
    }
}
