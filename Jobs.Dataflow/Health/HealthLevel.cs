namespace Jobs.Dataflow;

/// <summary>The level of a health scope, from the least to the most severe for reporting purposes.</summary>
public enum HealthLevel
{
    /// <summary>Nothing has been reported yet.</summary>
    Unknown,

    /// <summary>The scope works as expected.</summary>
    Ok,

    /// <summary>The scope works but something went wrong; see its message and error.</summary>
    Degraded,

    /// <summary>The scope has stopped on purpose.</summary>
    Stopped,
}
