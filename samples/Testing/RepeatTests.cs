namespace PriceService;

/// <summary>
/// Every scenario of <see cref="PriceJobsTests"/> fifty times in a row, in one process: a test built
/// on the kit does not flake.
/// </summary>
[TestClass]
public sealed class RepeatTests
{
    private const int Times = 50;

    [TestMethod]
    public async Task EveryScenario_FiftyTimesInARow_PassesEveryTime()
    {
        var tests = new PriceJobsTests();
        for (int i = 0; i < Times; i++)
        {
            await tests.Refresh_EveryFiveMinutes_LoadsThePriceList();
            await tests.Refresh_FiredByAnAdmin_RunsAtOnceAndRestartsTheInterval();
            await tests.Updates_AppliedAsTheyArrive();
            await tests.Orders_FullBatchesAtOnce_ThePartialOneAfterItsDelay_UnknownItemsDropped();
            await tests.Refresh_SourceFails_TheJobIsDegradedAndRecovers();
        }
    }
}
