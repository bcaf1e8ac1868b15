using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow;

namespace PriceService;

/// <summary>
/// A small service built on Jobs.Dataflow, the kind a user would test: a price list refreshed every
/// five minutes or at once when someone asks (a timer with a trigger), price updates applied as they
/// arrive (an observer), and orders priced and written in batches of 50, or whatever arrived within
/// two seconds (a pipeline).
/// </summary>
public sealed class PriceJobs
{
    /// <summary>How many orders are written at once.</summary>
    public const int BatchSize = 50;

    /// <summary>How often the price list is refreshed when nobody asks.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(5);

    /// <summary>The most time an order waits for its batch to fill.</summary>
    public static readonly TimeSpan BatchDelay = TimeSpan.FromSeconds(2);

    private readonly IPriceSource _source;
    private readonly ConcurrentDictionary<string, decimal> _prices = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<IReadOnlyList<PricedOrder>> _written = new();

    public PriceJobs(IPriceSource source, TimeProvider time)
    {
        _source = source;
        Refresh = new Trigger(timeProvider: time);
    }

    /// <summary>Gets the trigger that asks for a refresh now (an admin endpoint would call <c>Fire()</c>).</summary>
    public Trigger Refresh { get; }

    /// <summary>Gets the updates to apply to the price list as they come.</summary>
    public Channel<PriceUpdate> Updates { get; } = Channel.CreateUnbounded<PriceUpdate>();

    /// <summary>Gets the orders to price and write.</summary>
    public Channel<Order> Orders { get; } = Channel.CreateUnbounded<Order>();

    /// <summary>Gets the price list.</summary>
    public IReadOnlyDictionary<string, decimal> Prices => _prices;

    /// <summary>Gets the batches written, in order.</summary>
    public IReadOnlyList<IReadOnlyList<PricedOrder>> Written => [.. _written];

    /// <summary>Gets the number of refreshes made.</summary>
    public int Refreshes { get; private set; }

    /// <summary>Makes the service's three jobs.</summary>
    /// <returns>The refresh timer, the updates observer and the orders pipeline, to add to a group.</returns>
    public IEnumerable<Job> CreateJobs()
    {
        yield return Job.Timer("refresh-prices", RefreshAsync, RefreshInterval, new TimerOptions { Trigger = Refresh });

        yield return Job.Observer(
            "apply-updates",
            (PriceUpdate update, CancellationToken _) =>
            {
                _prices[update.Sku] = update.Price;
                return Task.CompletedTask;
            },
            Updates.Reader);

        yield return Job.Pipeline("write-orders", Orders.Reader)
            .Where("known", order => _prices.ContainsKey(order.Sku))
            .Transform("price", order => new PricedOrder(order.Id, order.Quantity * _prices[order.Sku]))
            .Batch("batch", BatchSize, BatchDelay)
            .Sink("write", (PricedOrder[] batch, CancellationToken _) =>
            {
                _written.Enqueue(batch);
                return Task.CompletedTask;
            });
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        foreach (PriceUpdate price in await _source.GetPricesAsync(cancellationToken))
        {
            _prices[price.Sku] = price.Price;
        }

        Refreshes++;
    }
}
