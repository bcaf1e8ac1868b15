using System.Diagnostics;
using System.Globalization;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// Runs an observer row's baseline and library side alternately in one process, and prints the
/// medians and the lower quartiles of each, and the median bytes each side allocated:
/// <c>-- pairs block|enumerable|channel [pairs]</c>.
/// </summary>
/// <remarks>
/// On 2 cores, and pinned for the stream rows, each operation draws one of two speeds of
/// Dataflow's hand-off, and a BenchmarkDotNet run can give the two sides different draws. Pairs
/// taken one right after the other, after a warm-up as long as the stream class's, share the
/// process, its compiled code and the machine's state: their medians compare the two sides where
/// a ratio of means cannot. Each operation's setup (filling the source) is outside its time, and
/// this thread, not one of the pool's, blocks on each operation, as BenchmarkDotNet does.
/// </remarks>
public static class InterleavedPairs
{
    private const int WarmUp = 30;

    public static void Run(string[] args, TextWriter output)
    {
        string what = args.ElementAtOrDefault(1) ?? "block";
        int pairs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30;
        (Action setUp, Func<Task> baseline, Func<Task> library, Action cleanup) = Sides(what);

        var baselineTimes = new List<double>();
        var libraryTimes = new List<double>();
        var baselineBytes = new List<long>();
        var libraryBytes = new List<long>();
        for (int i = 0; i < WarmUp + pairs; i++)
        {
            (double baselineTime, long baselineAllocated) = Measure(setUp, baseline);
            (double libraryTime, long libraryAllocated) = Measure(setUp, library);
            if (i >= WarmUp)
            {
                baselineTimes.Add(baselineTime);
                libraryTimes.Add(libraryTime);
                baselineBytes.Add(baselineAllocated);
                libraryBytes.Add(libraryAllocated);
            }
        }

        cleanup();
        baselineTimes.Sort();
        libraryTimes.Sort();
        baselineBytes.Sort();
        libraryBytes.Sort();
        double baselineMedian = baselineTimes[pairs / 2];
        double libraryMedian = libraryTimes[pairs / 2];
        long baselineBytesMedian = baselineBytes[pairs / 2];
        long libraryBytesMedian = libraryBytes[pairs / 2];
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{what}, {pairs} pairs after {WarmUp} to warm up: baseline median {baselineMedian:F1} ms (lower quartile {baselineTimes[pairs / 4]:F1}), library median {libraryMedian:F1} ms (lower quartile {libraryTimes[pairs / 4]:F1}), ratio of medians {libraryMedian / baselineMedian:F2}"));
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  allocated, medians: baseline {baselineBytesMedian / 1024.0:F0} KB, library {libraryBytesMedian / 1024.0:F0} KB, difference {(libraryBytesMedian - baselineBytesMedian) / (double)ObserverBenchmarkBase.Items:+0.00;-0.00} B per item"));
    }

    private static (Action SetUp, Func<Task> Baseline, Func<Task> Library, Action Cleanup) Sides(string what)
    {
        switch (what)
        {
            case "block":
                var block = new ObserverBlockBenchmarks();
                block.GlobalSetup();
                return (block.IterationSetup, block.ActionBlockAsyncDelegate, block.ObserverJob, block.GlobalCleanup);
            case "enumerable":
            case "channel":
                var stream = new ObserverStreamBenchmarks();
                stream.GlobalSetup();
                return what == "enumerable"
                    ? (stream.IterationSetup, stream.EnumerablePumpedByHand, stream.EnumerableObserver, stream.GlobalCleanup)
                    : (stream.IterationSetup, stream.ChannelPumpedByHand, stream.ChannelObserver, stream.GlobalCleanup);
            default:
                throw new ArgumentException($"Unknown pairs '{what}': block, enumerable or channel.", nameof(what));
        }
    }

    /// <summary>Times one operation and counts the bytes every thread allocated meanwhile (the setup excluded).</summary>
    private static (double Milliseconds, long Allocated) Measure(Action setUp, Func<Task> operation)
    {
        setUp();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        long start = Stopwatch.GetTimestamp();
        operation().GetAwaiter().GetResult();
        double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return (elapsed, GC.GetTotalAllocatedBytes(precise: true) - allocated);
    }
}
