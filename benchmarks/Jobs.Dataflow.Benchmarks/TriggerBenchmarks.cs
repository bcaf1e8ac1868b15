using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// <see cref="Trigger.Fire"/> to the end of the run of a zero-interval (trigger-only) timer job,
/// 10,000 round trips in sequence, against a <see cref="BroadcastBlock{T}"/> linked to an
/// <see cref="ActionBlock{T}"/> with bounded capacity 1 that runs the same function. Figures are
/// per round trip.
/// </summary>
public class TriggerBenchmarks
{
    private const int RoundTrips = 10_000;

    private readonly TimerFunc _run;
    private TaskCompletionSource _ran = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private JobRegistry _registry = null!;
    private IJobGroup _group = null!;
    private Trigger _trigger = null!;
    private BroadcastBlock<bool> _broadcast = null!;
    private ActionBlock<bool> _action = null!;

    public TriggerBenchmarks()
    {
        _run = Run;
    }

    [GlobalSetup]
    public void GlobalSetup()
    {
        _trigger = new Trigger();
        _registry = new JobRegistry();
        var primed = new PrimedCounter(1);
        _group = _registry.NewGroup(primed);
        _group.Add(Job.Timer("triggered", _run, TimeSpan.Zero, new TimerOptions { Trigger = _trigger }));
        _group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        primed.Done.GetAwaiter().GetResult();

        CancellationToken token = CancellationToken.None;
        _broadcast = new BroadcastBlock<bool>(cloningFunction: null);
        _action = new ActionBlock<bool>(_ => _run(token), new ExecutionDataflowBlockOptions { BoundedCapacity = 1 });
        _broadcast.LinkTo(_action);
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _broadcast.Complete();
        _action.Complete();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = RoundTrips, Description = "BroadcastBlock -> ActionBlock(capacity 1)")]
    public async Task BroadcastToActionBlock()
    {
        for (int i = 0; i < RoundTrips; i++)
        {
            Task ran = Arm();
            _broadcast.Post(true);
            await ran;
        }
    }

    [Benchmark(OperationsPerInvoke = RoundTrips, Description = "Trigger.Fire -> timer job")]
    public async Task FireTimerJob()
    {
        for (int i = 0; i < RoundTrips; i++)
        {
            Task ran = Arm();
            _trigger.Fire();
            await ran;
        }
    }

    private Task Arm()
    {
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _ran, ran);
        return ran.Task;
    }

    private Task Run(CancellationToken cancellationToken)
    {
        Volatile.Read(ref _ran).TrySetResult();
        return Task.CompletedTask;
    }
}
