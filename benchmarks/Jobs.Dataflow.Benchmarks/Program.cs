using BenchmarkDotNet.Running;
using Jobs.Dataflow.Benchmarks;

// Modes that BenchmarkDotNet cannot express run by name; everything else goes to the switcher,
// so `-- --filter '*'` runs every benchmark class.
switch (args.FirstOrDefault())
{
    case "idle-cpu":
        await IdleTimers.MeasureIdleCpuAsync(Console.Out, IdleTimers.ParseKind(args.ElementAtOrDefault(1)));
        break;
    case "timer-memory":
        await IdleTimers.MeasureRetainedMemoryAsync(Console.Out, IdleTimers.ParseKind(args.ElementAtOrDefault(1)));
        break;
    case "loop":
        await ProfileLoop.RunAsync(args, Console.Out);
        break;
    case "pairs":
        InterleavedPairs.Run(args, Console.Out);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(IdleTimers).Assembly).Run(args, new BenchmarkConfig());
        break;
}
