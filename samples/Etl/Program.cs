// An ETL worker on the Generic Host: an observer job reads order records from a CSV file and
// converts them, a timer job writes the converted records in batches (every 2 seconds, or early
// when a batch fills, through a trigger), and a one-shot job waits for the end of the input,
// reports, and stops the host so the process exits 0.
//
//   dotnet run --project samples/Etl                   (generates an input file on first run)
//   dotnet run --project samples/Etl -- orders.csv     (reads your own)
using Jobs.Dataflow;
using Jobs.Dataflow.Hosting;
using Jobs.Dataflow.Samples.Etl;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

string input = args.Length > 0 ? args[0] : SampleData.EnsureInputFile();
string output = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(input))!, "orders-eur.csv");
Console.WriteLine($"Input:  {input}");
Console.WriteLine($"Output: {output}");

HostApplicationBuilder builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders().AddSimpleConsole(console =>
{
    console.IncludeScopes = true;
    console.SingleLine = true;
    console.TimestampFormat = "HH:mm:ss.fff ";
});
builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
builder.Services.AddHealthChecks().AddJobsHealthCheck();
builder.Services.AddSingleton(new Pipeline(input, output));
builder.Services.AddSingleton<MetricsReport>();
builder.Services.AddJobGroup(
    "etl",
    (group, services) => services.GetRequiredService<Pipeline>().AddJobs(group, services),
    new JobGroupOptions { Labels = new Dictionary<string, object?> { ["pipeline"] = "orders" } });

using IHost host = builder.Build();
host.Services.GetRequiredService<MetricsReport>().Start();
await host.RunAsync();
Console.WriteLine($"Exit code: {Environment.ExitCode}");
