using Jobs.Dataflow;
using Jobs.Dataflow.Testing;

namespace PriceService;

/// <summary>
/// The service's jobs under the test kit: every test starts the jobs on the kit's fake clock, acts,
/// then waits until the jobs are idle or advances the clock; nothing sleeps, nothing uses real time.
/// </summary>
[TestClass]
public sealed class PriceJobsTests
{
    private static readonly PriceUpdate[] Catalog = [new("apple", 0.5m), new("pear", 0.75m)];

    [TestMethod]
    public async Task Refresh_EveryFiveMinutes_LoadsThePriceList()
    {
        await using var kit = new JobTestKit();
        var source = new CountingSource(Catalog);
        var service = new PriceJobs(source, kit.Time);
        kit.Add([.. service.CreateJobs()]);
        await kit.StartAsync();
        Assert.AreEqual(0, service.Refreshes, "Nothing runs before the first interval.");

        await kit.AdvanceAsync(TimeSpan.FromMinutes(12));

        Assert.AreEqual(2, service.Refreshes);
        Assert.AreEqual(0.5m, service.Prices["apple"]);
    }

    [TestMethod]
    public async Task Refresh_FiredByAnAdmin_RunsAtOnceAndRestartsTheInterval()
    {
        await using var kit = new JobTestKit();
        var service = new PriceJobs(new CountingSource(Catalog), kit.Time);
        kit.Add([.. service.CreateJobs()]);
        await kit.StartAsync();
        await kit.AdvanceAsync(TimeSpan.FromMinutes(4));

        service.Refresh.Fire();
        await kit.WaitUntilIdleAsync();
        Assert.AreEqual(1, service.Refreshes, "The fire ran the refresh now.");

        await kit.AdvanceAsync(TimeSpan.FromMinutes(4));
        Assert.AreEqual(1, service.Refreshes, "The interval restarted at the fire: the next tick is at 9 minutes, not 5.");
        await kit.AdvanceAsync(TimeSpan.FromMinutes(1));
        Assert.AreEqual(2, service.Refreshes);
    }

    [TestMethod]
    public async Task Updates_AppliedAsTheyArrive()
    {
        await using var kit = new JobTestKit();
        var service = new PriceJobs(new CountingSource(Catalog), kit.Time);
        kit.Add([.. service.CreateJobs()]);
        await kit.StartAsync();

        service.Updates.Writer.TryWrite(new PriceUpdate("apple", 0.6m));
        service.Updates.Writer.TryWrite(new PriceUpdate("plum", 1.2m));
        await kit.WaitUntilIdleAsync();

        Assert.AreEqual(0.6m, service.Prices["apple"]);
        Assert.AreEqual(1.2m, service.Prices["plum"]);
    }

    [TestMethod]
    public async Task Orders_FullBatchesAtOnce_ThePartialOneAfterItsDelay_UnknownItemsDropped()
    {
        await using var kit = new JobTestKit();
        var service = new PriceJobs(new CountingSource(Catalog), kit.Time);
        kit.Add([.. service.CreateJobs()]);
        await kit.StartAsync();
        service.Refresh.Fire();
        await kit.WaitUntilIdleAsync();

        for (int id = 0; id < 120; id++)
        {
            service.Orders.Writer.TryWrite(new Order(id, id % 10 == 9 ? "unknown" : "apple", 2));
        }

        await kit.WaitUntilIdleAsync();
        CollectionAssert.AreEqual(new[] { 50, 50 }, service.Written.Select(batch => batch.Count).ToArray(), "108 known orders: two full batches at once.");

        await kit.AdvanceAsync(PriceJobs.BatchDelay);
        CollectionAssert.AreEqual(new[] { 50, 50, 8 }, service.Written.Select(batch => batch.Count).ToArray(), "The rest leaves when its delay is over.");
        Assert.AreEqual(1.0m, service.Written[0][0].Total);
    }

    [TestMethod]
    public async Task Refresh_SourceFails_TheJobIsDegradedAndRecovers()
    {
        await using var kit = new JobTestKit();
        var source = new CountingSource(Catalog) { FailNext = true };
        var service = new PriceJobs(source, kit.Time);
        Job[] jobs = [.. service.CreateJobs()];
        kit.Add(jobs);
        await kit.StartAsync();

        await kit.AdvanceAsync(PriceJobs.RefreshInterval);
        HealthStatus degraded = await kit.WaitForHealthAsync(jobs[0], HealthLevel.Degraded);
        StringAssert.Contains(degraded.Message, "price service down");

        await kit.AdvanceAsync(PriceJobs.RefreshInterval);
        await kit.WaitForHealthAsync(jobs[0], HealthLevel.Ok);
        Assert.AreEqual(1, service.Refreshes);
    }

    /// <summary>A price source that answers from a list, and fails once when asked to.</summary>
    private sealed class CountingSource(IReadOnlyList<PriceUpdate> prices) : IPriceSource
    {
        public bool FailNext { get; set; }

        public Task<IReadOnlyList<PriceUpdate>> GetPricesAsync(CancellationToken cancellationToken)
        {
            if (FailNext)
            {
                FailNext = false;
                throw new HttpRequestException("price service down");
            }

            return Task.FromResult(prices);
        }
    }
}
