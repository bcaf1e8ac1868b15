using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of pipeline jobs (event ids 100-119).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Pipeline job {JobName}: an item failed for good in stage {Stage} after {Attempts} attempts; the pipeline goes on with the next item")]
    public static partial void PipelineItemFailed(ILogger logger, string jobName, string stage, int attempts, Exception error);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "Pipeline job {JobName}: attempt {Attempt} of an item failed in stage {Stage}; it is retried")]
    public static partial void PipelineItemRetrying(ILogger logger, string jobName, string stage, int attempt, Exception error);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "Pipeline job {JobName}: the dead letter threw for an item of stage {Stage}; the pipeline goes on")]
    public static partial void PipelineDeadLetterFailed(ILogger logger, string jobName, string stage, Exception error);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Pipeline job {JobName} ended: its source failed after {In} items were taken")]
    public static partial void PipelineSourceFailed(ILogger logger, string jobName, long @in, Exception error);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Pipeline job {JobName} ended: its source completed; {In} items in, {Out} out, {Failed} failed")]
    public static partial void PipelineCompleted(ILogger logger, string jobName, long @in, long @out, long failed);
}
