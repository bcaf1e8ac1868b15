using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// Listens to the Jobs.Dataflow meter and keeps a count and a total per instrument, job and stage:
/// the run's summary reads the pipeline's counts from here.
/// </summary>
internal sealed class MetricsReport : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Job, string Stage), (long Count, double Sum)> _totals = new();

    public void Start()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterJobMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Gets the total of a counter for one stage of a job, such as the items that left it.</summary>
    public long Total(string instrument, string job, string stage) =>
        _totals.TryGetValue((instrument, job, stage), out (long Count, double Sum) total) ? (long)total.Sum : 0;

    public void Print()
    {
        Console.WriteLine("Metrics (meter Jobs.Dataflow):");
        foreach (((string instrument, string job, string stage), (long count, double sum)) in _totals.OrderBy(pair => pair.Key))
        {
            string key = stage.Length == 0 ? $"{instrument} [{job}]" : $"{instrument} [{job}/{stage}]";
            Console.WriteLine($"  {key,-55} count {count,7:N0}  sum {sum,12:N4}");
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string job = "?";
        string stage = string.Empty;
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            switch (tag.Key)
            {
                case "job.name":
                    job = tag.Value as string ?? "?";
                    break;
                case "job.stage":
                    stage = tag.Value as string ?? string.Empty;
                    break;
            }
        }

        _totals.AddOrUpdate((instrument.Name, job, stage), (1, value), (_, total) => (total.Count + 1, total.Sum + value));
    }
}
