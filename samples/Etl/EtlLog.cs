using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>The sample's log messages.</summary>
internal static partial class EtlLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Rejected line {Line}: {Reason}")]
    public static partial void Rejected(ILogger logger, long line, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Flushed {Records} records and {Rejects} rejects: {Written} written, {Rejected} rejected of {Read} read so far")]
    public static partial void Flushed(ILogger logger, int records, int rejects, long written, long rejected, long read);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Cannot write the output: {Message}")]
    public static partial void WriteFailed(ILogger logger, string message);
}
