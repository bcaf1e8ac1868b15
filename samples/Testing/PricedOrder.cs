namespace PriceService;

public sealed record PricedOrder(int Id, decimal Total);
