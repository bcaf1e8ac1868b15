namespace Jobs.Dataflow;

/// <content>
/// The job's own health scope. The context is the guard around the user's scope, so a job's
/// scope costs no object of its own; the scopes a job creates below it get a
/// <see cref="GuardedHealth"/> each.
/// </content>
internal sealed partial class JobContext : IHealth
{
    /// <summary>The user's scope; <see langword="null"/> until it is opened, or when its creation threw.</summary>
    private IHealth? _scope;

    /// <summary>Gets the job's own scope, unguarded, to be kept after the job ended; <see langword="null"/> when it could not be created.</summary>
    public IHealth? OwnScope => _scope;

    /// <summary>
    /// Creates the job's own scope under the group's (or a scoped group's); a scope that cannot be
    /// created is logged. Under the library's <see cref="HealthTree"/>, the scope is the tree's node
    /// itself, and one on the group's clock takes <paramref name="launchedAt"/> as the time it was
    /// created instead of reading its clock for each job (see <see cref="OkAsOf"/>).
    /// </summary>
    /// <param name="launchedAt">
    /// When the group launched the job: a timestamp of the group's clock, shared by every job
    /// launched with this one. Read by the first scope that takes it; <see langword="null"/> until then.
    /// </param>
    public void OpenHealthScope(ref long? launchedAt)
    {
        if (HealthNode.Of(_parentHealth) is { } parent)
        {
            _scope = parent.Clock == TimeProvider
                ? parent.NewChild(Job.HealthScopeName, launchedAt ??= TimeProvider.GetTimestamp())
                : parent.NewChild(Job.HealthScopeName);
        }
        else
        {
            _scope = GuardedHealth.TryNewScope(_parentHealth, Job.HealthScopeName, this);
        }
    }

    /// <summary>Closes the job's health scope (a throwing scope is logged).</summary>
    public void CloseHealth() => ((IHealth)this).Close();

    /// <summary>
    /// Reports <c>Ok(status)</c> on the job's own scope as of <paramref name="timestamp"/>, a
    /// timestamp of the group's clock the job read anyway (the start of a run): the library's
    /// <see cref="HealthTree"/> on the same clock takes it instead of reading its clock again.
    /// </summary>
    /// <param name="status">The status, such as <c>Running</c>.</param>
    /// <param name="timestamp">When it changed, from <see cref="TimeProvider"/>.</param>
    public void OkAsOf(string status, long timestamp)
    {
        if (_scope is HealthNode node && node.Clock == TimeProvider)
        {
            node.Ok(status, timestamp);
        }
        else
        {
            Report(_scope, HealthLevel.Ok, status, error: null);
        }
    }

    /// <summary>
    /// Reports <c>Ok("LABEL (DURATION)")</c> on the job's own scope, as of
    /// <paramref name="timestamp"/> (see <see cref="OkAsOf"/>). The library's
    /// <see cref="HealthTree"/> formats the message only when a snapshot reads it: most are
    /// replaced by the next report, or closed, before anyone does. Any other scope gets the text now.
    /// </summary>
    /// <param name="label">What the duration measured, such as <c>Finished</c>.</param>
    /// <param name="duration">The duration.</param>
    /// <param name="timestamp">When it ended, from <see cref="TimeProvider"/>.</param>
    public void OkWithDuration(string label, TimeSpan duration, long timestamp)
    {
        if (_scope is HealthNode node)
        {
            if (node.Clock == TimeProvider)
            {
                node.OkWithDuration(label, duration, timestamp);
            }
            else
            {
                node.OkWithDuration(label, duration);
            }
        }
        else if (_scope is not null)
        {
            Report(_scope, HealthLevel.Ok, Durations.Format(label, duration), error: null);
        }
    }

    /// <summary>Reports to a scope of this job, logging a failure of it (see <see cref="HealthFailed"/>); nothing when <paramref name="scope"/> is null.</summary>
    /// <param name="scope">The user's scope: the job's own, or one created below it.</param>
    /// <param name="level">Which call to make: <see cref="HealthLevel.Ok"/>, <see cref="HealthLevel.Stopped"/>, <see cref="HealthLevel.Degraded"/> or <see cref="HealthLevel.Failed"/>.</param>
    /// <param name="message">The status or reason.</param>
    /// <param name="error">The error of a degraded or failed report.</param>
    public void Report(IHealth? scope, HealthLevel level, string message, Exception? error)
    {
        try
        {
            switch (level)
            {
                case HealthLevel.Ok:
                    scope?.Ok(message);
                    break;
                case HealthLevel.Stopped:
                    scope?.Stopped(message);
                    break;
                case HealthLevel.Degraded:
                    scope?.Degraded(message, error);
                    break;
                default:
                    scope?.Failed(message, error);
                    break;
            }
        }
        catch (Exception ex)
        {
            HealthFailed(ex);
        }
    }

    /// <summary>Closes a scope of this job, logging a failure of it; nothing when <paramref name="scope"/> is null.</summary>
    public void Close(IHealth? scope)
    {
        try
        {
            scope?.Close();
        }
        catch (Exception ex)
        {
            HealthFailed(ex);
        }
    }

    // Arguments are checked before the call, so a caller's own mistake (a null message) still
    // throws to that caller instead of being logged as the scope's failure.
    void IHealth.Ok(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        Report(_scope, HealthLevel.Ok, status, error: null);
    }

    void IHealth.Stopped(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Report(_scope, HealthLevel.Stopped, reason, error: null);
    }

    void IHealth.Degraded(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Report(_scope, HealthLevel.Degraded, reason, error);
    }

    void IHealth.Failed(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        Report(_scope, HealthLevel.Failed, reason, error);
    }

    IHealth IHealth.NewScope(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new GuardedHealth(GuardedHealth.TryNewScope(_scope, name, this), this);
    }

    void IHealth.Close() => Close(_scope);
}
