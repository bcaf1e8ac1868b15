using BenchmarkDotNet.Attributes;
using Jobs.Dataflow;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// What the observer benchmarks share: a started group the jobs are added to, and a synchronous
/// handler that counts items and signals when it has seen all of them.
/// </summary>
public abstract class ObserverBenchmarkBase
{
    protected const int Items = 1_000_000;

    private JobRegistry _registry = null!;
    private TaskCompletionSource _seenAll = null!;
    private int _seen;

    protected ObserverBenchmarkBase()
    {
        Handler = Handle;
    }

    /// <summary>Gets the handler: bound once, so no run allocates a delegate for it.</summary>
    protected ObserverFunc<int> Handler { get; }

    protected IJobGroup Group { get; private set; } = null!;

    /// <summary>Gets a task that completes when the handler has seen <see cref="Items"/> items since <see cref="ResetCount"/>.</summary>
    protected Task SeenAll => _seenAll.Task;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _registry = new JobRegistry();
        Group = _registry.NewGroup(new PrimedCounter(int.MaxValue));
        Group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => Group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();

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
