using System.Runtime.InteropServices;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// Records the first signal that stops the program, for its exit code (128 + the signal's number,
/// as shells report a process killed by it). It only records: the Generic Host's console lifetime
/// handles the same signals, cancels their default action and stops the host, so the run still
/// ends with its summary.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private Received? _received;

    public StopSignals()
    {
        Register(PosixSignal.SIGINT, "SIGINT", 130);
        Register(PosixSignal.SIGQUIT, "SIGQUIT", 131);
        Register(PosixSignal.SIGTERM, "SIGTERM", 143);
    }

    /// <summary>Gets the name of the first signal received, or null.</summary>
    public string? Name => Volatile.Read(ref _received)?.Name;

    /// <summary>Gets the exit code for the first signal received, or null.</summary>
    public int? ExitCode => Volatile.Read(ref _received)?.ExitCode;

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void Register(PosixSignal signal, string name, int exitCode)
    {
        try
        {
            // The handler leaves context.Cancel alone: whether the default action (ending the
            // process) runs is the host's decision, not this recorder's.
            _registrations.Add(PosixSignalRegistration.Create(signal, _ => Interlocked.CompareExchange(ref _received, new Received(name, exitCode), null)));
        }
        catch (PlatformNotSupportedException)
        {
            // Not every platform has every signal; an unrecorded one still stops the host.
        }
    }

    private sealed record Received(string Name, int ExitCode);
}
