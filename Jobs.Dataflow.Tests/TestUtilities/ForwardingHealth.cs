namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// An <see cref="IHealth"/> that hands every call to another: a test's health derives from it and
/// overrides only the calls it watches or changes (creating or closing a scope, usually).
/// </summary>
internal abstract class ForwardingHealth(IHealth inner) : IHealth
{
    public virtual void Ok(string status) => inner.Ok(status);

    public virtual void Stopped(string reason) => inner.Stopped(reason);

    public virtual void Degraded(string reason, Exception? error) => inner.Degraded(reason, error);

    public virtual void Failed(string reason, Exception? error) => inner.Failed(reason, error);

    public virtual IHealth NewScope(string name) => inner.NewScope(name);

    public virtual void Close() => inner.Close();
}
