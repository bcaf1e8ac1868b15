// An ETL worker on the Generic Host: an observer job reads order records from a CSV file and
// converts them to euros, a timer job writes the converted records and the rejected ones in
// batches (every 2 seconds, or early when a batch fills, through a trigger), and a one-shot job
// waits for the end of the input, gives the health verdict, and stops the host.
//
//   dotnet run --project samples/Etl                              (generates an input file on first run)
//   dotnet run --project samples/Etl -- orders.csv [output.csv]   (reads your own)
//
// Exit codes: 0 done, 1 a job failed, 2 bad arguments or unreadable input, 128 + N stopped by signal N.
using System.Globalization;
using Jobs.Dataflow;
using Jobs.Dataflow.Hosting;
using Jobs.Dataflow.Samples.Etl;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

if (args.Length > 2)
{
    Console.Error.WriteLine("Usage: Etl [INPUT [OUTPUT]]   (without INPUT, a generated sample file)");
    return 2;
}

// Registered before anything runs, so that the exit code tells which signal stopped the run.
using var signals = new StopSignals();

string input = args.Length > 0 ? args[0] : SampleData.EnsureInputFile();
if (!EtlFiles.TryOpen(input, args.Length > 1 ? args[1] : null, out EtlFiles? files, out string? error))
{
    Console.Error.WriteLine(error);
    return 2;
}

await using (files)
{
    Console.WriteLine($"Input:   {files.InputPath}");
    Console.WriteLine($"Output:  {files.OutputPath}");
    Console.WriteLine($"Rejects: {files.RejectsPath}");

    HostApplicationBuilder builder = Host.CreateApplicationBuilder();
    builder.Logging.ClearProviders().AddSimpleConsole(console =>
    {
        console.IncludeScopes = true;
        console.SingleLine = true;
        console.TimestampFormat = "HH:mm:ss.fff ";
    });
    builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);

    // The finish job prints the health check's result itself.
    builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
    builder.Services.AddHealthChecks().AddJobsHealthCheck();
    builder.Services.AddSingleton(services => new Pipeline(files.Input, files.Output, files.Rejects, services.GetRequiredService<ILogger<Pipeline>>()));
    builder.Services.AddSingleton<MetricsReport>();
    builder.Services.AddJobGroup(
        "etl",
        (group, services) => services.GetRequiredService<Pipeline>().AddJobs(group, services),
        new JobGroupOptions { Labels = new Dictionary<string, object?> { ["pipeline"] = "orders" } });

    Pipeline pipeline;
    int exitCode;
    using (IHost host = builder.Build())
    {
        pipeline = host.Services.GetRequiredService<Pipeline>();
        host.Services.GetRequiredService<MetricsReport>().Start();

        // RunAsync without its dispose: the services are needed after the stop.
        await host.StartAsync();
        await host.WaitForShutdownAsync();

        // The stop has ended every job. After an interrupt, the records the convert job drained
        // are still queued: write them, so that "dropped" stays 0.
        bool flushed = true;
        try
        {
            await pipeline.FlushAsync();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            EtlLog.WriteFailed(host.Services.GetRequiredService<ILogger<Pipeline>>(), ex.Message);
            flushed = false;
        }

        bool failed = host.Services.GetRequiredService<HostShutdowner>().ExitCode != 0 || !flushed || !pipeline.Completed;
        exitCode = signals.ExitCode ?? (failed ? HostShutdowner.ErrorExitCode : 0);
    }

    // After the host is disposed, its console log is flushed: the summary comes last.
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"Summary: {pipeline.Read:N0} records read, {pipeline.Written:N0} written, {pipeline.Rejected:N0} rejected, {pipeline.Dropped:N0} dropped."));
    if (signals.Name is { } signal)
    {
        Console.WriteLine($"Interrupted by {signal}.");
    }

    Console.WriteLine($"Exit code: {exitCode}");
    return exitCode;
}
