// The quick start of the README: a group with two one-shot jobs, one of which fails twice and
// recovers on its third attempt. Run it with: dotnet run --project samples/QuickStart
// The part between the quickstart markers is the README's code, word for word (a test checks it).
using Jobs.Dataflow;
using Microsoft.Extensions.Logging;

// <quickstart>
using ILoggerFactory loggerFactory = LoggerFactory.Create(logging => logging
    .SetMinimumLevel(LogLevel.Debug)
    .AddSimpleConsole(console => console.IncludeScopes = true));

var health = new HealthTree("quickstart");
var registry = new JobRegistry(loggerFactory);
IJobGroup group = registry.NewGroup(health, new JobGroupOptions
{
    Labels = new Dictionary<string, object?> { ["app"] = "quickstart" },
});

var connected = new TaskCompletionSource();
int attempts = 0;
group.Add(
    Job.OneShot("warm-cache", async (health, cancellationToken) =>
    {
        health.Ok("Warming");
        await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
    }),
    Job.OneShot(
        "connect-db",
        async (health, cancellationToken) =>
        {
            if (++attempts < 3)
            {
                throw new IOException($"database not ready (attempt {attempts})");
            }

            health.Ok("Connected; serving");
            connected.SetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken); // serve until the group stops
        },
        new OneShotOptions { Retries = 5, Backoff = new ExponentialBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)) }));

await group.StartAsync(CancellationToken.None); // launches both jobs; does not wait for them
await connected.Task;                           // ... the service runs ...
Console.Write(health.Snapshot());                // the health tree, one line per scope
await group.StopAsync(CancellationToken.None);  // cancels both and waits until both have ended

// </quickstart>
Console.WriteLine("Health after stop (the group closes every job's scope when it stops):");
Console.Write(health.Snapshot());
