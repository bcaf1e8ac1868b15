using System.Diagnostics;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// Runs one benchmark's library side in a loop for a while, so a profiler (dotnet-trace,
/// dotnet-counters) can attach to a steady workload: <c>-- loop oneshot|oneshot-phases|trigger|trigger-baseline|observer|enumerable[-baseline]|channel[-baseline]|timers [seconds]</c>.
/// </summary>
public static class ProfileLoop
{
    public static async Task RunAsync(string[] args, TextWriter output)
    {
        string what = args.Length > 1 ? args[1] : "oneshot";
        TimeSpan duration = TimeSpan.FromSeconds(args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10);
        if (what == "oneshot-phases")
        {
            RunOneShotPhases(duration, output);
            return;
        }

        Func<Task> step;
        Action cleanup = () => { };
        switch (what)
        {
            case "oneshot":
                var oneShot = new OneShotBenchmarks();
                oneShot.GlobalSetup();
                step = oneShot.OneShotJobs;
                break;
            case "trigger":
                var trigger = new TriggerBenchmarks();
                trigger.GlobalSetup();
                step = trigger.FireTimerJob;
                cleanup = trigger.GlobalCleanup;
                break;
            case "trigger-baseline":
                var broadcast = new TriggerBenchmarks();
                broadcast.GlobalSetup();
                step = broadcast.BroadcastToActionBlock;
                cleanup = broadcast.GlobalCleanup;
                break;
            case "observer":
                var observer = new ObserverBlockBenchmarks();
                observer.GlobalSetup();
                step = () =>
                {
                    observer.IterationSetup();
                    return observer.ObserverJob();
                };
                cleanup = observer.GlobalCleanup;
                break;
            case "enumerable":
            case "enumerable-baseline":
            case "channel":
            case "channel-baseline":
                var stream = new ObserverStreamBenchmarks();
                stream.GlobalSetup();
                Func<Task> run = what switch
                {
                    "enumerable" => stream.EnumerableObserver,
                    "enumerable-baseline" => stream.EnumerablePumpedByHand,
                    "channel" => stream.ChannelObserver,
                    _ => stream.ChannelPumpedByHand,
                };
                step = () =>
                {
                    stream.IterationSetup();
                    return run();
                };
                cleanup = stream.GlobalCleanup;
                break;
            case "timers":
                var timers = new IdleTimerBenchmarks();
                timers.GlobalSetup();
                step = timers.StartPrimedStop;
                break;
            default:
                throw new ArgumentException($"Unknown loop '{what}': oneshot, oneshot-phases, trigger, trigger-baseline, observer, enumerable, enumerable-baseline, channel, channel-baseline or timers.", nameof(args));
        }

        output.WriteLine($"pid {Environment.ProcessId}: running '{what}' for {duration.TotalSeconds} s");
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        long contentions = Monitor.LockContentionCount;
        long start = Stopwatch.GetTimestamp();
        int count = 0;
        bool eachStep = Environment.GetEnvironmentVariable("PROFILE_LOOP_EACH") == "1";
        while (Stopwatch.GetElapsedTime(start) < duration)
        {
            long stepStart = Stopwatch.GetTimestamp();
            await step();
            count++;
            if (eachStep)
            {
                output.WriteLine($"{Stopwatch.GetElapsedTime(stepStart).TotalMilliseconds:F1} ms");
            }
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        contentions = Monitor.LockContentionCount - contentions;
        cleanup();
        output.WriteLine($"{count} operations, {elapsed.TotalMilliseconds / count:F3} ms, {allocated / count:N0} bytes allocated and {(double)contentions / count:N1} contended lock takes each");
    }

    /// <summary>
    /// Runs the one-shot operation from this thread, which is not one of the pool's, blocking on
    /// it as BenchmarkDotNet does, and prints the median of each phase over the last three quarters
    /// of the runs (the first quarter warms up).
    /// </summary>
    private static void RunOneShotPhases(TimeSpan duration, TextWriter output)
    {
        var oneShot = new OneShotBenchmarks();
        oneShot.GlobalSetup();
        var runs = new List<TimeSpan[]>();
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < duration)
        {
            runs.Add(oneShot.OneShotJobsByPhase());
        }

        string[] names = ["create", "add", "start", "until all ran", "stop"];
        List<TimeSpan[]> measured = runs[(runs.Count / 4)..];
        output.WriteLine($"{measured.Count} operations measured, median per phase:");
        for (int i = 0; i < names.Length; i++)
        {
            double[] phase = [.. measured.Select(run => run[i].TotalMilliseconds).Order()];
            output.WriteLine($"  {names[i],-14} {phase[phase.Length / 2]:F3} ms");
        }
    }
}
