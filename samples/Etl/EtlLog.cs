using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>The sample's log messages. Rejected records are logged by the pipeline itself, one line each.</summary>
internal static partial class EtlLog
{
    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Wrote {Records} records; {Written} written so far")]
    public static partial void Wrote(ILogger logger, int records, long written);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Cannot write the output: {Message}")]
    public static partial void WriteFailed(ILogger logger, string message);
}
