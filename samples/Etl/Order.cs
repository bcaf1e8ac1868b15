using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>One order record: <c>id,customer,amount,currency</c>, four fields, no quoting.</summary>
internal readonly record struct Order(int Id, string Customer, decimal Amount, string Currency)
{
    /// <summary>The header line of the input and of the output.</summary>
    public const string Header = "id,customer,amount,currency";

    private static readonly Dictionary<string, decimal> ToEuro = new(StringComparer.Ordinal)
    {
        ["EUR"] = 1m,
        ["USD"] = 0.92m,
        ["GBP"] = 1.17m,
        ["CHF"] = 1.05m,
    };

    /// <summary>
    /// Parses a record. A malformed one is the input's fault, not the program's: it returns the
    /// reason instead of throwing, so a file full of them costs no exception each.
    /// </summary>
    public static bool TryParse(string line, out Order order, [NotNullWhen(false)] out string? reason)
    {
        order = default;
        string[] fields = line.Split(',');
        if (fields.Length != 4)
        {
            reason = $"expected 4 fields, found {fields.Length}: {Text.Echo(line)}";
            return false;
        }

        // Digits only: no sign, no spaces, no thousands separators; overflow fails too.
        if (!int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id == 0)
        {
            reason = $"id is not a positive integer: {Text.Echo(fields[0])}";
            return false;
        }

        if (!decimal.TryParse(fields[2], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal amount))
        {
            reason = $"amount is not a decimal number: {Text.Echo(fields[2])}";
            return false;
        }

        if (!ToEuro.ContainsKey(fields[3]))
        {
            reason = $"unknown currency: {Text.Echo(fields[3])}";
            return false;
        }

        order = new Order(id, fields[1], amount, fields[3]);
        reason = null;
        return true;
    }

    /// <summary>Converts the amount to euros; throws <see cref="OverflowException"/> for an amount too large to convert.</summary>
    public Order InEuro() => this with { Amount = decimal.Round(Amount * ToEuro[Currency], 2), Currency = "EUR" };

    public string ToCsv() => string.Create(CultureInfo.InvariantCulture, $"{Id},{Customer},{Amount},{Currency}");
}
