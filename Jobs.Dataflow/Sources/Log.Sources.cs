using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages about the sources that feed observer and pipeline jobs (event ids 70-79).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 70, Level = LogLevel.Warning, Message = "Job {JobName} could not detach from its source")]
    public static partial void SourceDetachFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 71, Level = LogLevel.Information, Message = "Job {JobName} discarded {Count} items taken from its source: the group stopped")]
    public static partial void ItemsDiscarded(ILogger logger, string jobName, long count);

    [LoggerMessage(EventId = 72, Level = LogLevel.Warning, Message = "Job {JobName} could not finish draining: {Count} items taken from its source were not handled (the stop's token fired, or the source ignored cancellation)")]
    public static partial void DrainCutShort(ILogger logger, string jobName, long count);

    [LoggerMessage(EventId = 73, Level = LogLevel.Warning, Message = "Job {JobName} ended without waiting for its source, which had not let go {Grace} after the job stopped using it (a source should end when its token is cancelled, and its subscription should dispose promptly)")]
    public static partial void SourceNotReleased(ILogger logger, string jobName, string grace);

    [LoggerMessage(EventId = 74, Level = LogLevel.Warning, Message = "Job {JobName} dropped an item its source yielded after the job had detached from it; the source ignored the stop's cancellation")]
    public static partial void SourceLateItem(ILogger logger, string jobName);

    [LoggerMessage(EventId = 75, Level = LogLevel.Debug, Message = "Job {JobName} ignores an item its source pushed after the job detached from it")]
    public static partial void SourceLatePush(ILogger logger, string jobName);

    [LoggerMessage(EventId = 76, Level = LogLevel.Warning, Message = "Job {JobName} stopped an observable that kept pushing inside its Subscribe call after the job detached, by throwing OperationCanceledException from OnNext")]
    public static partial void SourceStoppedRunawaySubscribe(ILogger logger, string jobName);

    [LoggerMessage(EventId = 77, Level = LogLevel.Debug, Message = "Job {JobName} pauses its source for the first time: the block it feeds is full, and the job takes the next item once the block has made room (backpressure; later pauses are not logged)")]
    public static partial void SourcePaused(ILogger logger, string jobName);

    [LoggerMessage(EventId = 78, Level = LogLevel.Warning, Message = "Job {JobName} discarded {Count} items taken from its source: one of its blocks failed, and the error follows")]
    public static partial void ItemsDiscardedByAFailedBlock(ILogger logger, string jobName, long count);
}
