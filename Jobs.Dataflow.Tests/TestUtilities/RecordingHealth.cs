namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// An <see cref="IHealth"/> that forwards to a <see cref="HealthTree"/> and records every report,
/// so a test can wait for a report instead of polling the tree.
/// </summary>
internal sealed class RecordingHealth : IHealth
{
    private readonly Recorder<HealthReport> _recorder;
    private readonly IHealth _inner;
    private readonly string _path;

    public RecordingHealth(TimeProvider? timeProvider = null)
    {
        Tree = new HealthTree("root", timeProvider);
        _recorder = new Recorder<HealthReport>();
        _inner = Tree;
        _path = string.Empty;
    }

    private RecordingHealth(HealthTree tree, Recorder<HealthReport> recorder, IHealth inner, string path)
    {
        Tree = tree;
        _recorder = recorder;
        _inner = inner;
        _path = path;
    }

    public HealthTree Tree { get; }

    public IReadOnlyList<HealthReport> Reports => _recorder.Snapshot();

    public void Ok(string status)
    {
        _inner.Ok(status);
        _recorder.Add(new HealthReport(_path, HealthLevel.Ok, status, null));
    }

    public void Stopped(string reason)
    {
        _inner.Stopped(reason);
        _recorder.Add(new HealthReport(_path, HealthLevel.Stopped, reason, null));
    }

    public void Degraded(string reason, Exception? error)
    {
        _inner.Degraded(reason, error);
        _recorder.Add(new HealthReport(_path, HealthLevel.Degraded, reason, error));
    }

    public void Failed(string reason, Exception? error)
    {
        _inner.Failed(reason, error);
        _recorder.Add(new HealthReport(_path, HealthLevel.Failed, reason, error));
    }

    public IHealth NewScope(string name) =>
        new RecordingHealth(Tree, _recorder, _inner.NewScope(name), _path.Length == 0 ? name : _path + "/" + name);

    public void Close()
    {
        _inner.Close();
        _recorder.Add(new HealthReport(_path, HealthLevel.Unknown, string.Empty, null, Closed: true));
    }

    /// <summary>Waits for a report (already made or still to come) that matches.</summary>
    public Task<HealthReport> WaitForAsync(Func<HealthReport, bool> predicate) => _recorder.WaitForAsync(predicate);

    /// <summary>Waits for a report on the scope at <paramref name="path"/> whose message starts with <paramref name="prefix"/>.</summary>
    public Task<HealthReport> WaitForAsync(string path, HealthLevel level, string prefix = "") =>
        WaitForAsync(r => r.Path == path && r.Level == level && !r.Closed && r.Message.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Waits until the scope at <paramref name="path"/> is closed.</summary>
    public Task<HealthReport> WaitForCloseAsync(string path) => WaitForAsync(r => r.Path == path && r.Closed);
}
