namespace Jobs.Dataflow;

/// <summary>Adds jobs to a group, reporting their health under a particular scope.</summary>
public interface IScopedJobGroup
{
    /// <summary>
    /// Adds jobs. Before the group starts they are queued and launched in order when it starts;
    /// after it started they start at once; once it stops they are ignored with a warning.
    /// Never blocks.
    /// </summary>
    /// <param name="jobs">The jobs to add.</param>
    void Add(params Job[] jobs);
}
