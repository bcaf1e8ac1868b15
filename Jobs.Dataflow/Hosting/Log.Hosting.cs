using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of the hosting integration (event ids 80-99).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 80, Level = LogLevel.Critical, Message = "A job failed for good; stopping the application with a non-zero exit code")]
    public static partial void ShuttingDownOnError(ILogger logger, Exception error);

    [LoggerMessage(EventId = 81, Level = LogLevel.Information, Message = "A job asked the application to stop")]
    public static partial void ShuttingDown(ILogger logger);

    [LoggerMessage(EventId = 82, Level = LogLevel.Debug, Message = "The application is already stopping; a further shutdown request is ignored")]
    public static partial void ShutdownAlreadyRequested(ILogger logger, Exception? error);
}
