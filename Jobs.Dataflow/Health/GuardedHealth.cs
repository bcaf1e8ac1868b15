namespace Jobs.Dataflow;

/// <summary>
/// A job's view of its health scope: every call to the user's <see cref="IHealth"/> is guarded, so
/// a scope that throws is logged (see <see cref="JobContext.HealthFailed"/>) and the job goes on.
/// Without a scope (its creation threw), reports go nowhere.
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

    /// <summary>Gets the user's scope behind the guard; <see langword="null"/> when it could not be created.</summary>
    public IHealth? Inner => _inner;

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
        try
        {
            _inner?.Ok(status);
        }
        catch (Exception ex)
        {
            _context.HealthFailed(ex);
        }
    }

    public void Stopped(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        try
        {
            _inner?.Stopped(reason);
        }
        catch (Exception ex)
        {
            _context.HealthFailed(ex);
        }
    }

    public void Degraded(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        try
        {
            _inner?.Degraded(reason, error);
        }
        catch (Exception ex)
        {
            _context.HealthFailed(ex);
        }
    }

    public void Failed(string reason, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(reason);
        try
        {
            _inner?.Failed(reason, error);
        }
        catch (Exception ex)
        {
            _context.HealthFailed(ex);
        }
    }

    public IHealth NewScope(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new GuardedHealth(TryNewScope(_inner, name, _context), _context);
    }

    public void Close()
    {
        try
        {
            _inner?.Close();
        }
        catch (Exception ex)
        {
            _context.HealthFailed(ex);
        }
    }
}
