namespace Jobs.Dataflow;

/// <summary>
/// The level of a health scope. The values are not ordered by severity: from the worst to the
/// least, <see cref="Failed"/>, <see cref="Degraded"/>, <see cref="Stopped"/>, <see cref="Ok"/>
/// and <see cref="Unknown"/> (see <see cref="HealthStatus.Overall"/>).
/// </summary>
public enum HealthLevel
{
    /// <summary>Nothing has been reported yet.</summary>
    Unknown,

    /// <summary>The scope works as expected.</summary>
    Ok,

    /// <summary>The scope works but something went wrong; see its message and error.</summary>
    Degraded,

    /// <summary>The scope has stopped on purpose, or its work is done.</summary>
    Stopped,

    /// <summary>The scope ended with an error and will not run again; see its message and error.</summary>
    Failed,
}
