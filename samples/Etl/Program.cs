// An ETL worker on the Generic Host, as one pipeline job: read the order records of a CSV file,
// parse them, convert them to euros, batch them by 500 or 2 seconds, and append them to the
// output. Records that cannot be parsed or converted go to the dead letter, which writes them to
// the rejects file. When the input is done the pipeline stops the host (ShutdownWhenComplete).
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
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using HealthCheckStatus = Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus;

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
    builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
    builder.Services.AddHealthChecks().AddJobsHealthCheck();
    builder.Services.AddSingleton(files);
    builder.Services.AddSingleton<OrdersPipeline>();
    builder.Services.AddSingleton<MetricsReport>();
    builder.Services.AddJobGroup(
        "etl",
        (group, services) => group.Add(services.GetRequiredService<OrdersPipeline>().Job),
        new JobGroupOptions { Labels = new Dictionary<string, object?> { ["pipeline"] = "orders" } });

    OrdersPipeline pipeline;
    MetricsReport metrics;
    HealthReport? verdict = null;
    int exitCode;
    using (IHost host = builder.Build())
    {
        pipeline = host.Services.GetRequiredService<OrdersPipeline>();
        metrics = host.Services.GetRequiredService<MetricsReport>();
        metrics.Start();
        HealthTree health = host.Services.GetRequiredService<HealthTree>();
        IHostApplicationLifetime lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

        // The verdict of a run that ended by itself (completed, or its source failed), taken as the
        // host begins to stop and before the group closes the job's scopes: it depends on the input
        // only. An interrupted run gets none.
        lifetime.ApplicationStopping.Register(() =>
        {
            HealthLevel? level = health.Snapshot().Find("etl", "pipeline-job-" + OrdersPipeline.Name)?.Level;
            if (level is HealthLevel.Stopped or HealthLevel.Failed)
            {
                verdict = host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().GetAwaiter().GetResult();
            }
        });

        // ShutdownWhenComplete stops the host when the pipeline completes; this stops it too when
        // the pipeline ends for another reason (its source failed).
        _ = pipeline.Job.Completion.ContinueWith(_ => lifetime.StopApplication(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

        // RunAsync without its dispose: the services are read after the stop.
        await host.StartAsync();
        await host.WaitForShutdownAsync();

        bool failed = host.Services.GetRequiredService<HostShutdowner>().ExitCode != 0 || verdict is null || verdict.Status == HealthCheckStatus.Unhealthy;
        exitCode = signals.ExitCode ?? (failed ? HostShutdowner.ErrorExitCode : 0);
    }

    // After the host is disposed, its console log is flushed: the verdict and summary come last.
    if (verdict is not null)
    {
        Console.WriteLine($"Health check: {verdict.Status}");
        foreach (HealthReportEntry entry in verdict.Entries.Values)
        {
            foreach ((string path, object message) in entry.Data)
            {
                Console.WriteLine($"  {path}: {message}");
            }
        }
    }

    metrics.Print();

    // The pipeline's own counts: what entered its first stage, and what failed in parse or convert.
    const string Items = "jobs.pipeline.stage.items";
    const string Failures = "jobs.pipeline.stage.failures";
    long parseFailures = metrics.Total(Failures, OrdersPipeline.Name, "parse");
    long read = metrics.Total(Items, OrdersPipeline.Name, "parse") + parseFailures;
    long rejected = parseFailures + metrics.Total(Failures, OrdersPipeline.Name, "convert");
    long written = pipeline.Output.Written;
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"Summary: {read:N0} records read, {written:N0} written, {rejected:N0} rejected, {read - written - rejected:N0} dropped."));
    if (signals.Name is { } signal)
    {
        Console.WriteLine($"Interrupted by {signal}.");
    }

    Console.WriteLine($"Exit code: {exitCode}");
    return exitCode;
}
