using System.Globalization;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>One order record.</summary>
internal readonly record struct Order(int Id, string Customer, decimal Amount, string Currency)
{
    private static readonly Dictionary<string, decimal> ToEuro = new()
    {
        ["EUR"] = 1m,
        ["USD"] = 0.92m,
        ["GBP"] = 1.17m,
        ["CHF"] = 1.05m,
    };

    /// <summary>Parses a CSV line; throws <see cref="FormatException"/> for a malformed one.</summary>
    public static Order Parse(string line)
    {
        string[] fields = line.Split(',');
        if (fields.Length != 4)
        {
            throw new FormatException($"Expected 4 fields: '{line}'.");
        }

        return new Order(
            int.Parse(fields[0], CultureInfo.InvariantCulture),
            fields[1],
            decimal.Parse(fields[2], CultureInfo.InvariantCulture),
            fields[3]);
    }

    /// <summary>Converts the amount to euros.</summary>
    public Order InEuro() => this with { Amount = decimal.Round(Amount * ToEuro[Currency], 2), Currency = "EUR" };

    public string ToCsv() => string.Create(CultureInfo.InvariantCulture, $"{Id},{Customer},{Amount},{Currency}");
}
