using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of observer jobs (event ids 60-69).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 60, Level = LogLevel.Error, Message = "Observer job {JobName} failed to handle an item; it goes on with the next one")]
    public static partial void ObserverHandlerFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 61, Level = LogLevel.Error, Message = "Observer job {JobName} ended: its source failed after {Count} items were handled")]
    public static partial void ObserverSourceFailed(ILogger logger, string jobName, long count, Exception error);

    [LoggerMessage(EventId = 62, Level = LogLevel.Information, Message = "Observer job {JobName} ended: its source completed after {Count} items were handled")]
    public static partial void ObserverSourceCompleted(ILogger logger, string jobName, long count);
}
