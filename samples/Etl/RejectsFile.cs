using System.Globalization;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>The rejected records: <c>line,reason,record</c>, the reason and the record CSV-quoted.</summary>
internal sealed class RejectsFile
{
    /// <summary>The header line of the rejects file.</summary>
    public const string Header = "line,reason,record";

    private readonly TextWriter _writer;

    public RejectsFile(TextWriter writer)
    {
        _writer = writer;
        _writer.WriteLine(Header);
    }

    /// <summary>Appends one rejected record. Only the pipeline's dead letter calls it, one at a time; the file is flushed when it is closed.</summary>
    public Task WriteAsync(long line, string reason, string record) =>
        _writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{line},{Text.CsvField(reason)},{Text.CsvField(record)}"));
}
