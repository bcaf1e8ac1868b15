namespace Jobs.Dataflow.Testing;

/// <summary>Options of a <see cref="JobTestKit"/>.</summary>
public sealed class JobTestKitOptions
{
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(30);

    /// <summary>Gets the time the kit's clock starts at.</summary>
    /// <value>The default is 2026-01-01 00:00 UTC.</value>
    public DateTimeOffset Start { get; init; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Gets how long the kit's waits wait, in real time, before they throw a
    /// <see cref="TimeoutException"/> naming what is still busy. Generous on purpose: a wait that
    /// succeeds returns as soon as its condition holds.
    /// </summary>
    /// <value>The default is 30 seconds.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive, or longer than a timer can wait (about 49 days).</exception>
    public TimeSpan Timeout
    {
        get => _timeout;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, nameof(Timeout));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, TimeSpan.FromMilliseconds(uint.MaxValue - 1), nameof(Timeout));
            _timeout = value;
        }
    }

    /// <summary>Gets the group's labels (see <see cref="JobGroupOptions.Labels"/>).</summary>
    public IReadOnlyDictionary<string, object?>? Labels { get; init; }
}
