namespace Jobs.Dataflow;

/// <summary>
/// A scope that a job created below its own: every call to the user's <see cref="IHealth"/> is
/// guarded, so a scope that throws is logged (see <see cref="JobContext.HealthFailed"/>) and the
/// job goes on. Without a scope (its creation threw), reports go nowhere. The job's own scope is
/// guarded the same way by its <see cref="JobContext"/>.
/// </summary>
/// <remarks>
/// Arguments are checked before the call, so a caller's own mistake (a null message) still throws
/// to that caller instead of being logged as the scope's failure.
/// </remarks>
internal sealed class GuardedHealth : IHealth
{
    private readonly IHealth? _inner;
    private readonly JobContext _context;

    public GuardedHealth(IHealth? inner, JobContext context)
    {
        _inner = inner;
        _context = context;
    }

    /// <summary>Creates a child of the user's scope; <see langword="null"/> (logged) when that throws.</summary>
    public static IHealth? TryNewScope(IHealth? parent, string name, JobContext context)
    {
        try
        {
            return parent?.NewScope(name);
        }
        catch (Exception ex)
        {
            context.HealthFailed(ex);
            return null;
        }
    }

    public void Ok(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        _context.Report(_inner, HealthLevel.Ok, status, error: null);
    }

    public void Stopped(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _context.Report(_inner, HealthLevel.Stopped, reason, error: null);
    }

    public void Degraded(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _context.Report(_inner, HealthLevel.Degraded, reason, error);
    }

    public void Failed(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        _context.Report(_inner, HealthLevel.Failed, reason, error);
    }

    public IHealth NewScope(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new GuardedHealth(TryNewScope(_inner, name, _context), _context);
    }

    public void Close() => _context.Close(_inner);
}
