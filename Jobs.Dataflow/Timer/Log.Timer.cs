using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <content>Messages of timer jobs and triggers (event ids 40-59).</content>
internal static partial class Log
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Error, Message = "Timer job {JobName} failed; it keeps running")]
    public static partial void TimerFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 41, Level = LogLevel.Debug, Message = "Timer job {JobName} ran in {Duration}")]
    public static partial void TimerRan(ILogger logger, string jobName, string duration);

    [LoggerMessage(EventId = 42, Level = LogLevel.Debug, Message = "Timer job {JobName} dropped a pending run: its group is stopping")]
    public static partial void TimerRunDropped(ILogger logger, string jobName);

    [LoggerMessage(EventId = 43, Level = LogLevel.Debug, Message = "Timer job {JobName} runs for {Folds} trigger fires, {Latency} after the first")]
    public static partial void TimerTriggered(ILogger logger, string jobName, int folds, string latency);

    [LoggerMessage(EventId = 44, Level = LogLevel.Debug, Message = "Timer job {JobName} holds trigger fires for {Delay}: the debounce window is open")]
    public static partial void TimerFiresHeld(ILogger logger, string jobName, string delay);

    [LoggerMessage(EventId = 45, Level = LogLevel.Error, Message = "Timer job {JobName} hit an unexpected error between runs")]
    public static partial void TimerRunCrashed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 46, Level = LogLevel.Debug, Message = "Timer job {JobName} next runs at {Next} by its cron expression")]
    public static partial void CronNextRun(ILogger logger, string jobName, DateTimeOffset next);

    [LoggerMessage(EventId = 47, Level = LogLevel.Warning, Message = "Timer job {JobName} has no further occurrence of its cron expression; it runs only when triggered")]
    public static partial void CronNoNextRun(ILogger logger, string jobName);

    [LoggerMessage(EventId = 48, Level = LogLevel.Information, Message = "Timer job {JobName} changed its interval to {Interval}")]
    public static partial void TimerIntervalChanged(ILogger logger, string jobName, string interval);

    [LoggerMessage(EventId = 49, Level = LogLevel.Error, Message = "A callback on the token of a run of job {JobName} threw when the run was cancelled by its timeout or the stop")]
    public static partial void RunTimeoutCallbackFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 50, Level = LogLevel.Warning, Message = "A run of job {JobName} timed out after {Timeout}; its token is cancelled, and the job waits for its function to return")]
    public static partial void RunTimedOut(ILogger logger, string jobName, string timeout);
}
