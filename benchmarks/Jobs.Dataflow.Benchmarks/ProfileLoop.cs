using System.Diagnostics;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// Runs one benchmark's library side in a loop for a while, so a profiler (dotnet-trace,
/// dotnet-counters) can attach to a steady workload: <c>-- loop oneshot|trigger|trigger-baseline|observer|enumerable[-baseline]|channel[-baseline]|timers [seconds]</c>.
/// </summary>
public static class ProfileLoop
{
    public static async Task RunAsync(string[] args, TextWriter output)
    {
        string what = args.Length > 1 ? args[1] : "oneshot";
        TimeSpan duration = TimeSpan.FromSeconds(args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10);
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
                throw new ArgumentException($"Unknown loop '{what}': oneshot, trigger, trigger-baseline, observer, enumerable, enumerable-baseline, channel, channel-baseline or timers.", nameof(args));
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
}
