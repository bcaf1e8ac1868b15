namespace Jobs.Dataflow;

/// <summary>A view of a group whose jobs report under a child health scope.</summary>
internal sealed class ScopedJobGroup : IScopedJobGroup
{
    private readonly JobGroup _group;

    // The scope; no-op once closed, so the view (a stopped group keeps its views) holds nothing of the tree.
    private IHealth _health;

    public ScopedJobGroup(JobGroup group, IHealth health)
    {
        _group = group;
        _health = health;
    }

    public void Add(params Job[] jobs) => _group.Add(_health, jobs);

    /// <summary>Closes the view's scope when the group stops; a throwing scope is logged.</summary>
    public void CloseScope(Microsoft.Extensions.Logging.ILogger logger)
    {
        try
        {
            _health.Close();
        }
        catch (Exception ex)
        {
            Log.ScopeCloseFailed(logger, ex);
        }

        // Only the stop, or a view that lost the race to be made, closes it: it takes no jobs after.
        _health = NullHealth.Instance;
    }
}
