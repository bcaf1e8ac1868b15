using BenchmarkDotNet.Attributes;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// A group with 10,000 idle timer jobs (1 hour interval): create the group, add the jobs, start
/// it, wait until every timer reported <c>Primed</c>, stop it. There is no baseline; the target is
/// an absolute time, met by every kind of timer. Retained memory per timer is the
/// <c>timer-memory</c> mode.
/// </summary>
public class IdleTimerBenchmarks
{
    private Job[] _jobs = null!;
    private JobRegistry _registry = null!;

    /// <summary>Gets or sets the kind of timers: 1-hour intervals, hourly cron expressions, or half of each.</summary>
    // A string, not the enum: BenchmarkDotNet's generated code names the enum's type from a
    // namespace where "Jobs" means BenchmarkDotNet.Jobs, and does not compile.
    [Params("Interval", "Cron", "Mixed")]
    public string Kind { get; set; } = "Interval";

    [GlobalSetup]
    public void GlobalSetup() => _registry = new JobRegistry();

    /// <summary>Makes new jobs for every iteration: a job runs once, in one group.</summary>
    [IterationSetup]
    public void IterationSetup() => _jobs = IdleTimers.CreateJobs(IdleTimers.ParseKind(Kind));

    [Benchmark(Description = "10,000 idle timers: start until primed, stop")]
    public async Task StartPrimedStop()
    {
        IJobGroup group = await IdleTimers.StartPrimedAsync(_registry, _jobs);
        await group.StopAsync(CancellationToken.None);
    }
}
