using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of pipeline jobs (event ids 100-119).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Pipeline job {JobName}, stage {Stage}: an item failed for good (attempts: {Attempts}); the pipeline goes on")]
    public static partial void PipelineItemFailed(ILogger logger, string jobName, string stage, int attempts, Exception error);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "Pipeline job {JobName}, stage {Stage}: attempt {Attempt} of an item failed; it is retried")]
    public static partial void PipelineItemRetrying(ILogger logger, string jobName, string stage, int attempt, Exception error);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "Pipeline job {JobName}, stage {Stage}: the dead letter threw for an item; the pipeline goes on")]
    public static partial void PipelineDeadLetterFailed(ILogger logger, string jobName, string stage, Exception error);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Pipeline job {JobName} ended: its source failed after {In} items were taken")]
    public static partial void PipelineSourceFailed(ILogger logger, string jobName, long @in, Exception error);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Pipeline job {JobName} ended: its source completed; {In} items in, {Out} out, {Failed} failed")]
    public static partial void PipelineCompleted(ILogger logger, string jobName, long @in, long @out, long failed);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Pipeline job {JobName}, stage {Stage}: an item failed for good (attempts: {Attempts}) and goes to the dead letter")]
    public static partial void PipelineItemDeadLettered(ILogger logger, string jobName, string stage, int attempts, Exception error);
}
