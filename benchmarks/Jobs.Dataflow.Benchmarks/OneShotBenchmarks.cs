using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// 10,000 one-shot jobs whose function returns at once: create them, add them to a new group,
/// start it, wait until every function ran, stop it; against 10,000 <see cref="Task.Run(Func{Task})"/>
/// and <see cref="Task.WhenAll(Task[])"/> of the same function.
/// </summary>
/// <remarks>
/// The group reports to a new <see cref="HealthTree"/>, as a user's would: every job gets a scope
/// in it and reports <c>Running</c> and <c>Finished (DURATION)</c> there, so the figures include
/// what the tree costs, not only the group. Completion is counted by the function itself, not by
/// the health reports.
/// </remarks>
[WarmupCount(10)]
[IterationCount(20)]
public class OneShotBenchmarks
{
    private const int Count = 10_000;

    private readonly OneShotFunc _fn;
    private JobRegistry _registry = null!;
    private TaskCompletionSource _allRan = null!;
    private int _remaining;

    public OneShotBenchmarks()
    {
        _fn = Run;
    }

    [GlobalSetup]
    public void GlobalSetup() => _registry = new JobRegistry();

    [Benchmark(Baseline = true, Description = "10,000 Task.Run + Task.WhenAll")]
    public Task TaskRunWhenAll()
    {
        Arm();
        var tasks = new Task[Count];
        var health = new HealthTree();
        for (int i = 0; i < tasks.Length; i++)
        {
            tasks[i] = Task.Run(() => _fn(health, CancellationToken.None));
        }

        return Task.WhenAll(tasks);
    }

    [Benchmark(Description = "10,000 one-shot jobs: create, add, start, all ran, stop")]
    public async Task OneShotJobs()
    {
        Task allRan = Arm();
        (IJobGroup group, Job[] jobs) = NewGroupAndJobs();
        group.Add(jobs);
        await group.StartAsync(CancellationToken.None);
        await allRan;
        await group.StopAsync(CancellationToken.None);
    }

    /// <summary>
    /// Runs <see cref="OneShotJobs"/> once, synchronously, and returns how long each of its phases
    /// took: creating the jobs, <c>Add</c>, <c>StartAsync</c>, until every function ran, and the stop.
    /// </summary>
    /// <returns>The five phases' durations, in that order.</returns>
    public TimeSpan[] OneShotJobsByPhase()
    {
        Task allRan = Arm();
        var marks = new long[6];
        marks[0] = Stopwatch.GetTimestamp();
        (IJobGroup group, Job[] jobs) = NewGroupAndJobs();
        marks[1] = Stopwatch.GetTimestamp();
        group.Add(jobs);
        marks[2] = Stopwatch.GetTimestamp();
        group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        marks[3] = Stopwatch.GetTimestamp();
        allRan.GetAwaiter().GetResult();
        marks[4] = Stopwatch.GetTimestamp();
        group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        marks[5] = Stopwatch.GetTimestamp();

        var phases = new TimeSpan[5];
        for (int i = 0; i < phases.Length; i++)
        {
            phases[i] = Stopwatch.GetElapsedTime(marks[i], marks[i + 1]);
        }

        return phases;
    }

    /// <summary>Creates a group reporting to a new tree, and the jobs to add to it.</summary>
    private (IJobGroup Group, Job[] Jobs) NewGroupAndJobs()
    {
        IJobGroup group = _registry.NewGroup(new HealthTree());
        var jobs = new Job[Count];
        for (int i = 0; i < jobs.Length; i++)
        {
            jobs[i] = Job.OneShot("one-shot", _fn);
        }

        return (group, jobs);
    }

    private Task Arm()
    {
        _remaining = Count;
        _allRan = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _allRan.Task;
    }

    private Task Run(IHealth health, CancellationToken cancellationToken)
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _allRan.TrySetResult();
        }

        return Task.CompletedTask;
    }
}
