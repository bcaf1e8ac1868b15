using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BdnJob = BenchmarkDotNet.Jobs.Job;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// A CPU-bound Transform stage (about 20 µs of arithmetic per item) over 20,000 items, at
/// <c>MaxDegreeOfParallelism</c> 1 and 2: on 2 cores the second should take a little over half the
/// time of the first. Not pinned, by design: one core cannot run two items at once.
/// </summary>
[Config(typeof(AllCoresConfig))]
[InvocationCount(1)]
public class PipelineParallelBenchmarks
{
    private const int Items = 20_000;

    private JobRegistry _registry = null!;
    private IJobGroup _group = null!;

    [Params(1, 2)]
    public int Parallelism { get; set; }

    [GlobalSetup]
    public void GlobalSetup()
    {
        _registry = new JobRegistry();
        _group = _registry.NewGroup(new PrimedCounter(int.MaxValue));
        _group.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _group.StopAsync(CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark(Description = "CPU-bound Transform, then Sink")]
    public async Task CpuBoundStage()
    {
        Job job = Job.Pipeline("cpu", Enumerable.Range(0, Items).ToAsyncEnumerable())
            .Transform("hash", Spin, new StageOptions { MaxDegreeOfParallelism = Parallelism })
            .Sink("drop", static (_, _) => Task.CompletedTask);
        _group.Add(job);
        await job.Completion;
    }

    /// <summary>About 20 µs of work that the JIT cannot remove.</summary>
    private static long Spin(int seed)
    {
        long x = seed;
        for (int i = 0; i < 20_000; i++)
        {
            x = (x * 6364136223846793005L) + 1442695040888963407L;
        }

        return x;
    }

    private sealed class AllCoresConfig : ManualConfig
    {
        public AllCoresConfig()
        {
            Add(DefaultConfig.Instance);
            AddJob(BdnJob.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10).WithId("AllCores"));
            AddDiagnoser(MemoryDiagnoser.Default);
        }
    }
}
