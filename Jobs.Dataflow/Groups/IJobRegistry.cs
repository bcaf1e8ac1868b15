namespace Jobs.Dataflow;

/// <summary>Creates job groups and keeps track of them.</summary>
public interface IJobRegistry
{
    /// <summary>Creates a group of jobs that start and stop together.</summary>
    /// <param name="health">The health scope the group's jobs report under.</param>
    /// <param name="options">The group's logger, metrics and labels; the registry's defaults when <see langword="null"/>.</param>
    /// <returns>A new group, not started.</returns>
    IJobGroup NewGroup(IHealth health, JobGroupOptions? options = null);
}
