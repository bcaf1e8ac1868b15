using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>The ETL pipeline: its three jobs and the state they share.</summary>
internal sealed class Pipeline
{
    private const int BatchSize = 500;

    private readonly string _input;
    private readonly string _output;
    private readonly Trigger _flushNow = new(debounce: TimeSpan.FromMilliseconds(20));
    private readonly ConcurrentQueue<Order> _converted = new();
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly TaskCompletionSource _allHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _read;
    private int _converting;
    private int _handled;
    private int _failed;
    private int _written;
    private bool _inputEnded;

    public Pipeline(string input, string output)
    {
        _input = input;
        _output = output;
    }

    public void AddJobs(IJobGroup group, IServiceProvider services)
    {
        ILogger logger = services.GetRequiredService<ILogger<Pipeline>>();
        group.Add(
            Job.Observer<string>("transform", TransformAsync, ReadRecordsAsync(), new ObserverOptions { BoundedCapacity = 256 }),
            Job.Timer("flush", cancellationToken => FlushAsync(logger, cancellationToken), TimeSpan.FromSeconds(2), new TimerOptions { Trigger = _flushNow }),
            Job.OneShot("finish", (health, cancellationToken) => FinishAsync(services, logger, health, cancellationToken)));
    }

    /// <summary>The source: the input's lines after the header. A full buffer pauses the reading.</summary>
    private async IAsyncEnumerable<string> ReadRecordsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        File.Delete(_output);
        bool header = true;
        await foreach (string line in File.ReadLinesAsync(_input, cancellationToken))
        {
            if (header || line.Length == 0)
            {
                header = false;
                continue;
            }

            Interlocked.Increment(ref _read);
            yield return line;
        }

        Volatile.Write(ref _inputEnded, true);
        CheckAllHandled();
    }

    /// <summary>The handler: parse and convert one record; a malformed one throws and is skipped.</summary>
    private Task TransformAsync(string line, CancellationToken cancellationToken)
    {
        Order order;
        try
        {
            order = Order.Parse(line).InEuro();
        }
        catch (FormatException)
        {
            Interlocked.Increment(ref _failed);
            CheckAllHandled();
            throw; // the job logs it, degrades its health, counts it, and goes on
        }

        _converted.Enqueue(order);
        if (Interlocked.Increment(ref _converting) % BatchSize == 0)
        {
            _flushNow.Fire(); // don't wait for the interval: a batch is ready
        }

        Interlocked.Increment(ref _handled);
        CheckAllHandled();
        return Task.CompletedTask;
    }

    /// <summary>The timer: append what has been converted so far to the output.</summary>
    private async Task FlushAsync(ILogger logger, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken);
        try
        {
            var lines = new List<string>(BatchSize);
            while (_converted.TryDequeue(out Order order))
            {
                lines.Add(order.ToCsv());
            }

            if (lines.Count == 0)
            {
                return;
            }

            await File.AppendAllLinesAsync(_output, lines, cancellationToken);
            int written = Interlocked.Add(ref _written, lines.Count);
            logger.LogInformation("Wrote {Count:N0} records; {Written:N0} of {Read:N0} read so far", lines.Count, written, Volatile.Read(ref _read));
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>The one-shot: wait for the end of the input, write the rest, report, and stop the host.</summary>
    private async Task FinishAsync(IServiceProvider services, ILogger logger, IHealth health, CancellationToken cancellationToken)
    {
        health.Ok("Waiting for the end of the input");
        await _allHandled.Task.WaitAsync(cancellationToken);
        await FlushAsync(logger, cancellationToken);

        HealthReport report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"Done: {_read:N0} records read, {_written:N0} written, {_failed:N0} malformed.");
        Console.WriteLine($"Health check: {report.Status}");
        foreach ((string path, object message) in report.Entries["jobs"].Data)
        {
            Console.WriteLine($"  {path}: {message}");
        }

        services.GetRequiredService<MetricsReport>().Print();
        services.GetRequiredService<IShutdowner>().Shutdown(); // no error: the process exits 0
    }

    private void CheckAllHandled()
    {
        if (Volatile.Read(ref _inputEnded) && Volatile.Read(ref _handled) + Volatile.Read(ref _failed) == Volatile.Read(ref _read))
        {
            _allHandled.TrySetResult();
        }
    }
}
