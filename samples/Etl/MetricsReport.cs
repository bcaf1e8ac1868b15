using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>Listens to the Jobs.Dataflow meter and prints a count and total per instrument and job.</summary>
internal sealed class MetricsReport : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, (long Count, double Sum)> _totals = new();

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

    public void Print()
    {
        Console.WriteLine("Metrics (meter Jobs.Dataflow):");
        foreach ((string key, (long count, double sum)) in _totals.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"  {key,-55} count {count,7:N0}  sum {sum,12:N4}");
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string job = "?";
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == "job.name")
            {
                job = tag.Value as string ?? "?";
            }
        }

        string key = $"{instrument.Name} [{job}] ({instrument.Unit})";
        _totals.AddOrUpdate(key, (1, value), (_, total) => (total.Count + 1, total.Sum + value));
    }
}
