using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of observer jobs (event ids 60-79).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 60, Level = LogLevel.Error, Message = "Observer job {JobName} failed to handle an item; it goes on with the next one")]
    public static partial void ObserverHandlerFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 61, Level = LogLevel.Error, Message = "Observer job {JobName} ended: its source failed after {Count} items were handled")]
    public static partial void ObserverSourceFailed(ILogger logger, string jobName, long count, Exception error);

    [LoggerMessage(EventId = 62, Level = LogLevel.Information, Message = "Observer job {JobName} ended: its source completed after {Count} items were handled")]
    public static partial void ObserverSourceCompleted(ILogger logger, string jobName, long count);

    [LoggerMessage(EventId = 63, Level = LogLevel.Warning, Message = "Observer job {JobName} could not detach from its source")]
    public static partial void ObserverDetachFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 65, Level = LogLevel.Information, Message = "Observer job {JobName} discarded {Count} items taken from its source: the group stopped")]
    public static partial void ObserverDiscarded(ILogger logger, string jobName, long count);

    [LoggerMessage(EventId = 66, Level = LogLevel.Warning, Message = "Observer job {JobName} could not finish draining: {Count} items taken from its source were not handled (the stop's token fired, or the source ignored cancellation)")]
    public static partial void ObserverDrainCutShort(ILogger logger, string jobName, long count);

    [LoggerMessage(EventId = 67, Level = LogLevel.Warning, Message = "Observer job {JobName} ended without waiting for its source, which had not let go {Grace} after the job stopped using it (a source should end when its token is cancelled, and its subscription should dispose promptly)")]
    public static partial void ObserverSourceNotReleased(ILogger logger, string jobName, string grace);

    [LoggerMessage(EventId = 68, Level = LogLevel.Warning, Message = "Observer job {JobName} dropped an item its source yielded after the job had detached from it; the source ignored the stop's cancellation")]
    public static partial void ObserverLateItem(ILogger logger, string jobName);

    [LoggerMessage(EventId = 69, Level = LogLevel.Debug, Message = "Observer job {JobName} ignores an item its source pushed after the job detached from it")]
    public static partial void ObserverLatePush(ILogger logger, string jobName);

    [LoggerMessage(EventId = 70, Level = LogLevel.Warning, Message = "Observer job {JobName} stopped an observable that kept pushing inside its Subscribe call after the job detached, by throwing OperationCanceledException from OnNext")]
    public static partial void ObserverStoppedRunawaySubscribe(ILogger logger, string jobName);
}
