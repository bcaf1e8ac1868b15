using System.Diagnostics;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// A group of 10,000 idle timer jobs (1 hour interval, or hourly by cron), and the measurements
/// that BenchmarkDotNet cannot make.
/// </summary>
public static class IdleTimers
{
    public const int Count = 10_000;

    /// <summary>The cron expression of <see cref="TimerKind.Cron"/> timers: hourly, like <see cref="Interval"/>.</summary>
    public const string Hourly = "0 * * * *";

    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    private static readonly TimerFunc Nothing = static _ => Task.CompletedTask;

    /// <summary>Creates the timer jobs, new ones for each group: a job runs once, in one group.</summary>
    /// <param name="kind">Interval timers, cron timers, or every other one of each.</param>
    public static Job[] CreateJobs(TimerKind kind = TimerKind.Interval)
    {
        var jobs = new Job[Count];
        for (int i = 0; i < jobs.Length; i++)
        {
            bool cron = kind == TimerKind.Cron || (kind == TimerKind.Mixed && i % 2 == 1);
            jobs[i] = cron ? Job.Cron("timer-" + i, Nothing, Hourly) : Job.Timer("timer-" + i, Nothing, Interval);
        }

        return jobs;
    }

    /// <summary>Reads the kind of timers from a mode's argument: <c>interval</c> (the default), <c>cron</c> or <c>mixed</c>.</summary>
    public static TimerKind ParseKind(string? argument) =>
        argument is null ? TimerKind.Interval : Enum.Parse<TimerKind>(argument, ignoreCase: true);

    /// <summary>Creates a group of <paramref name="jobs"/>, starts it and returns once every timer reported <c>Primed</c>.</summary>
    public static async Task<IJobGroup> StartPrimedAsync(JobRegistry registry, Job[] jobs)
    {
        var primed = new PrimedCounter(jobs.Length);
        IJobGroup group = registry.NewGroup(primed);
        group.Add(jobs);
        await group.StartAsync(CancellationToken.None);
        await primed.Done;
        return group;
    }

    /// <summary>
    /// Prints the managed memory that each idle timer keeps: <see cref="GC.GetTotalMemory(bool)"/>
    /// after a full collection, before the jobs are created and again once all of them are primed,
    /// divided by the count. It counts everything a timer costs: the job, its run state, blocks,
    /// the platform timer and the group's bookkeeping.
    /// </summary>
    public static async Task MeasureRetainedMemoryAsync(TextWriter output, TimerKind kind = TimerKind.Interval)
    {
        // A warm-up group, so that JIT and static state are not counted as the timers' memory.
        var registry = new JobRegistry();
        IJobGroup warmup = await StartPrimedAsync(registry, CreateJobs(kind));
        await warmup.StopAsync(CancellationToken.None);

        registry = new JobRegistry();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        Job[] jobs = CreateJobs(kind);
        IJobGroup group = await StartPrimedAsync(registry, jobs);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(jobs);
        await group.StopAsync(CancellationToken.None);
        output.WriteLine($"retained managed memory per idle {kind.ToString().ToLowerInvariant()} timer: {(after - before) / (double)Count:F0} bytes ({Count:N0} timers, {after - before:N0} bytes)");
    }

    /// <summary>
    /// Prints the process CPU time used over 3 seconds while 10,000 primed timers wait, from
    /// <see cref="Process.TotalProcessorTime"/>. Nothing should poll, so this is the runtime's own
    /// background noise plus whatever the library costs while idle.
    /// </summary>
    public static async Task MeasureIdleCpuAsync(TextWriter output, TimerKind kind = TimerKind.Interval)
    {
        var registry = new JobRegistry();
        IJobGroup group = await StartPrimedAsync(registry, CreateJobs(kind));

        // Let the start settle: the jobs' tasks finish their synchronous parts, tiered JIT calms down.
        await Task.Delay(TimeSpan.FromSeconds(1));
        using Process process = Process.GetCurrentProcess();
        process.Refresh();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(3));
        process.Refresh();
        TimeSpan cpu = process.TotalProcessorTime - cpuBefore;
        TimeSpan wall = Stopwatch.GetElapsedTime(start);
        await group.StopAsync(CancellationToken.None);
        output.WriteLine($"process CPU while {Count:N0} {kind.ToString().ToLowerInvariant()} timers idle: {cpu.TotalMilliseconds:F1} ms over {wall.TotalSeconds:F2} s of wall time");
    }
}
