using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Internal;

/// <summary>The shutdowner of a registry that was given none: it logs the request, so it is never lost silently.</summary>
internal sealed class UnconfiguredShutdowner : IShutdowner
{
    private readonly ILogger _logger;

    public UnconfiguredShutdowner(ILogger logger) => _logger = logger;

    public void Shutdown(Exception? error = null) => Log.NoShutdowner(_logger, error);
}
