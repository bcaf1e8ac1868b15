using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// The ETL as one pipeline job: read the input's records, parse, convert to euros, batch by 500 or
/// 2 seconds, append to the output. A record that fails to parse or convert goes to the dead letter,
/// which writes it to the rejects file with its line number and reason; the pipeline goes on.
/// </summary>
internal sealed class OrdersPipeline
{
    /// <summary>The name of the job, and of its health scope <c>pipeline-job-orders</c>.</summary>
    public const string Name = "orders";

    private const int BatchSize = 500;
    private static readonly TimeSpan BatchDelay = TimeSpan.FromSeconds(2);

    private readonly TextReader _input;
    private readonly OutputFile _output;
    private readonly RejectsFile _rejects;
    private readonly ILogger _logger;
    private readonly IShutdowner _shutdowner;

    public OrdersPipeline(EtlFiles files, ILogger<OrdersPipeline> logger, IShutdowner shutdowner)
    {
        _input = files.Input;
        _output = new OutputFile(files.Output);
        _rejects = new RejectsFile(files.Rejects);
        _logger = logger;
        _shutdowner = shutdowner;
        Job = Job.Pipeline(
                Name,
                ReadRecordsAsync(),
                new PipelineOptions
                {
                    // Ctrl+C: every record already read is still written or rejected before the stop returns.
                    DrainOnStop = true,

                    // The input is done and every record has left the pipeline: the host stops, exit code 0.
                    ShutdownWhenComplete = true,
                    DeadLetter = RejectAsync,
                })
            .Transform("parse", Order.Parse)
            .Transform("convert", order => order.InEuro())
            .Batch("batch", BatchSize, BatchDelay)
            .Sink("write", WriteAsync, new StageOptions { Retries = 2, Backoff = new ExponentialBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)) });
    }

    /// <summary>Gets the pipeline job, to add to a group.</summary>
    public Job Job { get; }

    /// <summary>Gets the output file, which knows how many records it wrote.</summary>
    public OutputFile Output => _output;

    private static bool IsHeader(string? line) => string.Equals(line?.Trim(), Order.Header, StringComparison.OrdinalIgnoreCase);

    /// <summary>The source: the records of the input. The first line is skipped when it is the header, blank lines always.</summary>
    private async IAsyncEnumerable<InputLine> ReadRecordsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (InputLine line in LineReader.ReadAsync(_input, cancellationToken).ConfigureAwait(false))
        {
            if (line.Text is { Length: 0 } || (line.Number == 1 && IsHeader(line.Text)))
            {
                continue;
            }

            yield return line;
        }
    }

    private async Task WriteAsync(Order[] batch, CancellationToken cancellationToken)
    {
        long written = await _output.WriteAsync(batch).ConfigureAwait(false);
        EtlLog.Wrote(_logger, batch.Length, written);
    }

    /// <summary>
    /// The dead letter. A record the input got wrong goes to the rejects file. A batch the sink could
    /// not write, even after its retries, means the output is broken: the run stops, exit code 1.
    /// </summary>
    private Task RejectAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        string reason = letter.Error is RejectedRecordException rejected
            ? rejected.Reason
            : $"{letter.Error.GetType().Name}: {Text.OneLine(letter.Error.Message, 200)}";
        switch (letter.Item)
        {
            case InputLine line:
                return _rejects.WriteAsync(line.Number, reason, line.Text ?? string.Empty);
            case Order order:
                return _rejects.WriteAsync(order.Line, reason, order.ToCsv());
            default:
                EtlLog.WriteFailed(_logger, Text.OneLine(letter.Error.Message, 200));
                _shutdowner.Shutdown(letter.Error);
                return Task.CompletedTask;
        }
    }
}
