namespace PriceService;

public sealed record PriceUpdate(string Sku, decimal Price);
