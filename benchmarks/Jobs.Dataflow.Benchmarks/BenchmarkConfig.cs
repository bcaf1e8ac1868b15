using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BdnJob = BenchmarkDotNet.Jobs.Job;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// Two short jobs: one free to use both cores and one pinned to CPU 0. On 2 cores raw Dataflow
/// switches between a serial and a contended hand-off from run to run, which swamps the difference
/// being measured; pinned, both sides hand off serially and the ratio is stable.
/// </summary>
public sealed class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
    {
        Add(DefaultConfig.Instance);
        BdnJob quick = BdnJob.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10);
        AddJob(quick.WithId("AllCores"));
        AddJob(quick.WithAffinity(1).WithId("Pinned"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
