using System.Diagnostics.Metrics;

namespace Jobs.Dataflow.Benchmarks;

/// <summary>
/// What a benchmark's jobs report to: nothing (<see cref="NopJobMetrics"/>, the default), or the
/// library's <see cref="MeterJobMetrics"/> with a <see cref="MeterListener"/> attached to every
/// instrument of its meter, as an OpenTelemetry exporter would be: the cost of being observed.
/// </summary>
public sealed class Observation : IDisposable
{
    private readonly MeterListener? _listener;
    private readonly MeterJobMetrics? _metrics;
    private readonly Factory? _factory;
    private long _measurements;

    private Observation(bool observed)
    {
        if (!observed)
        {
            return;
        }

        _factory = new Factory();
        _metrics = new MeterJobMetrics(_factory);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MeterJobMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };

        // What an exporter does at the least: take every measurement in.
        _listener.SetMeasurementEventCallback<double>((_, value, _, _) => Record());
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Record());
        _listener.SetMeasurementEventCallback<int>((_, value, _, _) => Record());
        _listener.Start();
    }

    /// <summary>Gets the metrics to give the registry: <see langword="null"/> (no-op) when not observed.</summary>
    public IJobMetrics? Metrics => _metrics;

    /// <summary>Gets how many measurements the listener received.</summary>
    public long Measurements => Interlocked.Read(ref _measurements);

    /// <summary>Creates an observation: a listener on every instrument when <paramref name="observed"/>, nothing otherwise.</summary>
    public static Observation Create(bool observed) => new(observed);

    /// <summary>Creates a registry whose jobs report to this observation.</summary>
    public JobRegistry NewRegistry() => new(metrics: Metrics);

    public void Dispose()
    {
        _listener?.Dispose();
        _metrics?.Dispose();
        _factory?.Dispose();
    }

    private void Record()
    {
        Interlocked.Increment(ref _measurements);
    }

    /// <summary>A meter factory without dependency injection: one meter per request, disposed with it.</summary>
    private sealed class Factory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            lock (_meters)
            {
                _meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                _meters.ForEach(meter => meter.Dispose());
                _meters.Clear();
            }
        }
    }
}
