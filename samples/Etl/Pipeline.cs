using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using HealthCheckStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// The ETL pipeline: its three jobs and the counts they share. Every record read ends up written
/// or rejected; a record that is neither when the program ends (a write failed, a stop cut the
/// drain short) is counted as dropped, so the summary always adds up.
/// </summary>
internal sealed class Pipeline
{
    /// <summary>The header line of the rejects file.</summary>
    public const string RejectsHeader = "line,reason,record";

    private const int BatchSize = 500;

    private readonly TextReader _input;
    private readonly TextWriter _output;
    private readonly TextWriter _rejects;
    private readonly ILogger _logger;
    private readonly Trigger _flushNow = new(debounce: TimeSpan.FromMilliseconds(20));
    private readonly ConcurrentQueue<Order> _converted = new();
    private readonly ConcurrentQueue<string> _rejectLines = new();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private long _read;
    private long _queued;
    private long _written;
    private long _rejected;
    private volatile bool _completed;

    public Pipeline(TextReader input, TextWriter output, TextWriter rejects, ILogger<Pipeline> logger)
    {
        _input = input;
        _output = output;
        _rejects = rejects;
        _logger = logger;
        _output.WriteLine(Order.Header);
        _rejects.WriteLine(RejectsHeader);
    }

    /// <summary>Gets the number of records read (lines after the header, blank lines aside).</summary>
    public long Read => Interlocked.Read(ref _read);

    /// <summary>Gets the number of records written to the output.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Gets the number of records written to the rejects file.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Gets the number of records read but neither written nor rejected.</summary>
    public long Dropped => Read - Written - Rejected;

    /// <summary>Gets a value indicating whether the whole input was handled and the health check printed.</summary>
    public bool Completed => _completed;

    public void AddJobs(IJobGroup group, IServiceProvider services)
    {
        // DrainOnStop: on Ctrl+C the records already read are still converted (the stop waits
        // for them), and Program writes them after the host stops. Nothing read is lost.
        var convert = Job.Observer<InputLine>("convert", ConvertAsync, ReadRecordsAsync(), new ObserverOptions { BoundedCapacity = 64, DrainOnStop = true });

        // A flush that fails cannot write anything else either: stop, and exit 1.
        var flush = Job.Timer("flush", _ => FlushAsync(), TimeSpan.FromSeconds(2), new TimerOptions { Trigger = _flushNow, ShutdownOnError = true });
        var finish = Job.OneShot(
            "finish",
            (health, cancellationToken) => FinishAsync(convert, services, health, cancellationToken),
            new OneShotOptions { ShutdownOnError = true });
        group.Add(convert, flush, finish);
    }

    /// <summary>
    /// Writes what was converted or rejected so far. Writes take no token: a stop must not leave
    /// half a line in a file. Throws when a file cannot be written; the records it took are then dropped.
    /// </summary>
    public async Task FlushAsync()
    {
        await _writing.WaitAsync().ConfigureAwait(false);
        try
        {
            // Only what is queued now: a fast converter must not keep this loop going forever.
            int records = _converted.Count;
            for (int i = 0; i < records && _converted.TryDequeue(out Order order); i++)
            {
                await _output.WriteLineAsync(order.ToCsv()).ConfigureAwait(false);
            }

            int rejects = _rejectLines.Count;
            for (int i = 0; i < rejects && _rejectLines.TryDequeue(out string? line); i++)
            {
                await _rejects.WriteLineAsync(line).ConfigureAwait(false);
            }

            if (records + rejects == 0)
            {
                return;
            }

            await _output.FlushAsync().ConfigureAwait(false);
            await _rejects.FlushAsync().ConfigureAwait(false);
            long written = Interlocked.Add(ref _written, records);
            long rejected = Interlocked.Add(ref _rejected, rejects);
            EtlLog.Flushed(_logger, records, rejects, written, rejected, Read);
        }
        finally
        {
            _writing.Release();
        }
    }

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

            Interlocked.Increment(ref _read);
            yield return line;
        }
    }

    /// <summary>
    /// The handler: parse and convert one record, or reject it. Nothing a record causes may reach
    /// the job (it would log a stack trace per bad record): every failure is caught and rejected here.
    /// </summary>
    private Task ConvertAsync(InputLine line, CancellationToken cancellationToken)
    {
        string? reason;
        try
        {
            if (line.Text is null)
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"longer than {LineReader.MaxLineLength:N0} characters");
            }
            else if (Order.TryParse(line.Text, out Order order, out reason))
            {
                _converted.Enqueue(order.InEuro());
                Queued();
                return Task.CompletedTask;
            }
        }
        catch (Exception ex)
        {
            // Whatever else a record makes the parser or the conversion throw (an amount too large
            // to convert overflows) is still that record's fault.
            reason = $"{ex.GetType().Name}: {Text.OneLine(ex.Message, 200)}";
        }

        EtlLog.Rejected(_logger, line.Number, reason);
        _rejectLines.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{line.Number},{Text.CsvField(reason)},{Text.CsvField(line.Text ?? string.Empty)}"));
        Queued();
        return Task.CompletedTask;
    }

    /// <summary>Counts a record queued for writing, converted or rejected: a full batch is flushed without waiting for the interval.</summary>
    private void Queued()
    {
        if (Interlocked.Increment(ref _queued) % BatchSize == 0)
        {
            _flushNow.Fire();
        }
    }

    /// <summary>
    /// The one-shot: wait until every record read is handled, write the rest, give the verdict, and
    /// stop the host. The verdict depends on the input only: the job reports the rejects on its own
    /// scope before the health check, so the check cannot race with the other jobs' reports.
    /// </summary>
    private async Task FinishAsync(Job convert, IServiceProvider services, IHealth health, CancellationToken cancellationToken)
    {
        health.Ok("Waiting for the end of the input");

        // Completes when the source ended (or failed) and the records taken from it are handled.
        await convert.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        await FlushAsync().ConfigureAwait(false);
        long rejected = Rejected;
        if (rejected > 0)
        {
            health.Degraded(string.Create(CultureInfo.InvariantCulture, $"{rejected:N0} {(rejected == 1 ? "record" : "records")} rejected"), error: null);
        }

        HealthReport report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"Health check: {report.Status}");
        foreach (HealthReportEntry entry in report.Entries.Values)
        {
            foreach ((string path, object message) in entry.Data)
            {
                Console.WriteLine($"  {path}: {message}");
            }
        }

        services.GetRequiredService<MetricsReport>().Print();
        _completed = true;

        // A failed job (the source could not be read to its end) makes the process exit 1.
        Exception? failure = report.Status == HealthCheckStatus.Unhealthy
            ? report.Entries.Values.Select(entry => entry.Exception).FirstOrDefault(error => error is not null) ?? new InvalidOperationException("A job failed.")
            : null;
        services.GetRequiredService<IShutdowner>().Shutdown(failure);
    }
}
