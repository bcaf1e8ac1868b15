using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// Every log message of the library, source-generated. Event ids are stable and grouped by
/// concern: 1-19 groups and what every kind shares, 20-39 one-shot jobs, 40-59 timer jobs and
/// triggers, 60-69 observer jobs, 70-79 sources, 80-99 hosting, 100-119 pipeline jobs. Each kind's
/// messages live in its folder (<c>Log.Kind.cs</c>). Every message about a job carries its
/// sanitized name as <c>JobName</c>.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Job {JobName} was not started: its group is stopping or stopped")]
    public static partial void JobRejected(ILogger logger, string jobName);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Group stop timed out; jobs still running: {JobNames}")]
    public static partial void StopTimedOut(ILogger logger, string jobNames);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Job {JobName} ended with an unexpected error")]
    public static partial void JobCrashed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "A cancellation callback threw while the group was stopping")]
    public static partial void CancellationCallbackFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Job {JobName} started")]
    public static partial void JobStarted(ILogger logger, string jobName);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Job {JobName} ended")]
    public static partial void JobEnded(ILogger logger, string jobName);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Job {JobName} ended by cancellation")]
    public static partial void JobCancelled(ILogger logger, string jobName, Exception? error);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Job {JobName} gave up and asks the application to shut down")]
    public static partial void ShutdownRequested(ILogger logger, string jobName);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "Job {JobName} asked for a shutdown, but no IShutdowner is configured; the application keeps running")]
    public static partial void NoShutdowner(ILogger logger, string jobName, Exception? error);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "The health scope of job {JobName} threw; the job goes on, and further failures of it are logged at debug level")]
    public static partial void HealthReportFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 11, Level = LogLevel.Error, Message = "The shutdowner threw when job {JobName} asked for a shutdown")]
    public static partial void ShutdownFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "The health scope of job {JobName} threw again")]
    public static partial void HealthReportFailedAgain(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 13, Level = LogLevel.Error, Message = "The metrics sink threw for job {JobName}; the job goes on, and further failures of it are logged at debug level")]
    public static partial void MetricsFailed(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 14, Level = LogLevel.Debug, Message = "The metrics sink threw again for job {JobName}")]
    public static partial void MetricsFailedAgain(ILogger logger, string jobName, Exception error);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "The group stopped before these jobs began; they never ran: {JobNames}")]
    public static partial void JobsNeverRan(ILogger logger, string jobNames);

    [LoggerMessage(EventId = 16, Level = LogLevel.Error, Message = "A scoped group's health scope threw when the group closed it")]
    public static partial void ScopeCloseFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 17, Level = LogLevel.Error, Message = "The group's health scope threw when creating the scope {ScopeName} for Scoped(); its jobs run, and report nowhere")]
    public static partial void ScopeCreateFailed(ILogger logger, string scopeName, Exception error);

    [LoggerMessage(EventId = 18, Level = LogLevel.Debug, Message = "A run of job {JobName} ended by its cancellation")]
    public static partial void RunCancelled(ILogger logger, string jobName, Exception? error);

    [LoggerMessage(EventId = 19, Level = LogLevel.Information, Message = "Job {JobName} has completed its work and asks the application to shut down")]
    public static partial void CompletedShutdownRequested(ILogger logger, string jobName);
}
