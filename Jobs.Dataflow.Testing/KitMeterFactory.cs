using System.Diagnostics.Metrics;

namespace Jobs.Dataflow.Testing;

/// <summary>The kit's own <see cref="IMeterFactory"/>: its meters are scoped to it, so a test's collectors see this kit's measurements only.</summary>
internal sealed class KitMeterFactory : IMeterFactory
{
    private readonly Lock _gate = new();
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        lock (_gate)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (Meter meter in _meters)
            {
                meter.Dispose();
            }

            _meters.Clear();
        }
    }
}
