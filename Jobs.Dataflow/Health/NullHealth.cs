namespace Jobs.Dataflow;

/// <summary>A scope that reports nowhere: what a scoped group's jobs report to when the group's scope could not be created.</summary>
internal sealed class NullHealth : IHealth
{
    public static readonly NullHealth Instance = new();

    private NullHealth()
    {
    }

    public void Ok(string status)
    {
    }

    public void Stopped(string reason)
    {
    }

    public void Degraded(string reason, Exception? error)
    {
    }

    public void Failed(string reason, Exception? error)
    {
    }

    public IHealth NewScope(string name) => this;

    public void Close()
    {
    }
}
