namespace Jobs.Dataflow;

/// <summary>Limits of the platform's timers, which every delay and interval of the library goes through.</summary>
internal static class Timers
{
    /// <summary>The longest a <see cref="TimeProvider"/> timer or <c>Task.Delay</c> can wait: about 49.7 days.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
}
