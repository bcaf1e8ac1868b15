using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Hosting;

/// <summary>
/// The <see cref="IShutdowner"/> of a Generic Host: it stops the application, and makes the
/// process exit non-zero when the shutdown is for an error. Registered by <see cref="JobsServiceCollectionExtensions.AddJobs"/>.
/// </summary>
public sealed class HostShutdowner : IShutdowner
{
    /// <summary>The process exit code after a shutdown for an error.</summary>
    public const int ErrorExitCode = 1;

    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private int _requested;
    private int _exitCode;

    /// <summary>Initializes a new instance of the <see cref="HostShutdowner"/> class.</summary>
    /// <param name="lifetime">The host's lifetime, whose <see cref="IHostApplicationLifetime.StopApplication"/> stops it.</param>
    /// <param name="logger">Logs the error that caused the shutdown.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public HostShutdowner(IHostApplicationLifetime lifetime, ILogger<HostShutdowner> logger)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        ArgumentNullException.ThrowIfNull(logger);
        _lifetime = lifetime;
        _logger = logger;
    }

    /// <summary>Gets the exit code the shutdowner asked for: 0 until a shutdown for an error, then <see cref="ErrorExitCode"/>.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    /// <summary>
    /// Stops the application. With an error, logs it once as critical and sets
    /// <see cref="Environment.ExitCode"/> to <see cref="ErrorExitCode"/>, so that a host run from
    /// <c>Main</c> exits non-zero; without one, the exit code stays as it is (0 by default).
    /// Later calls only add their error to the exit code; the first one's is the one logged.
    /// </summary>
    /// <param name="error">The error that made a job give up, or <see langword="null"/> for a clean shutdown.</param>
    public void Shutdown(Exception? error = null)
    {
        if (error is not null)
        {
            Volatile.Write(ref _exitCode, ErrorExitCode);
            Environment.ExitCode = ErrorExitCode;
        }

        if (Interlocked.Exchange(ref _requested, 1) == 1)
        {
            Log.ShutdownAlreadyRequested(_logger, error);
            return;
        }

        if (error is not null)
        {
            Log.ShuttingDownOnError(_logger, error);
        }
        else
        {
            Log.ShuttingDown(_logger);
        }

        _lifetime.StopApplication();
    }
}
