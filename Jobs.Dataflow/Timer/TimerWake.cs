namespace Jobs.Dataflow;

/// <summary>
/// Why a timer job's run block was woken. Only a hint for logs: a run reads the tick flag and
/// the trigger's counters to decide what to do, because coalesced wake-ups fold into one
/// pending run and their reason would otherwise be lost.
/// </summary>
internal enum TimerWake : byte
{
    /// <summary>The interval elapsed.</summary>
    Tick,

    /// <summary>The trigger was fired.</summary>
    Fire,

    /// <summary>A debounce window that held fires ended.</summary>
    WindowEnd,
}
