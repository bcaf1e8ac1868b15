namespace Jobs.Dataflow;

/// <summary>
/// A scope of a <see cref="HealthTree"/> as a caller of its public API holds it: a view of its
/// node. The node is also the lock its reports take (see <see cref="HealthNode"/>), so it stays
/// inside the library; the library's own scopes, a job's among them, use the node itself.
/// </summary>
internal sealed class HealthScope : IHealth
{
    public HealthScope(HealthNode node)
    {
        Node = node;
    }

    /// <summary>Gets the node this scope reports to.</summary>
    public HealthNode Node { get; }

    public void Ok(string status) => Node.Ok(status);

    public void Stopped(string reason) => Node.Stopped(reason);

    public void Degraded(string reason, Exception? error) => Node.Degraded(reason, error);

    public void Failed(string reason, Exception? error) => Node.Failed(reason, error);

    public IHealth NewScope(string name) => new HealthScope(Node.NewChild(name));

    public void Close() => Node.Close();
}
