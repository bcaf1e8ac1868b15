namespace PriceService;

public sealed record Order(int Id, string Sku, int Quantity);
