using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of one-shot jobs (event ids 20-39).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Error, Message = "Job {JobName} failed on attempt {Attempt}; retries left: {RetriesLeft}")]
    public static partial void OneShotFailed(ILogger logger, string jobName, int attempt, int retriesLeft, Exception error);

    [LoggerMessage(EventId = 21, Level = LogLevel.Error, Message = "Job {JobName} failed on attempt {Attempt}; it retries forever")]
    public static partial void OneShotFailedRetryingForever(ILogger logger, string jobName, int attempt, Exception error);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Job {JobName} finished on attempt {Attempt} in {Duration}")]
    public static partial void OneShotFinished(ILogger logger, string jobName, int attempt, string duration);

    [LoggerMessage(EventId = 23, Level = LogLevel.Debug, Message = "Job {JobName} waits {Delay} before attempt {Attempt}")]
    public static partial void OneShotBackoff(ILogger logger, string jobName, string delay, int attempt);

    [LoggerMessage(EventId = 24, Level = LogLevel.Error, Message = "Job {JobName} gives up: its backoff threw")]
    public static partial void OneShotBackoffFailed(ILogger logger, string jobName, Exception error);
}
