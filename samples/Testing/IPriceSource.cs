namespace PriceService;

/// <summary>Where the whole price list comes from.</summary>
public interface IPriceSource
{
    Task<IReadOnlyList<PriceUpdate>> GetPricesAsync(CancellationToken cancellationToken);
}
