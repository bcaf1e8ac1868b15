using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>One order record, <c>id,customer,amount,currency</c> (four fields, no quoting), and the number of its line.</summary>
internal sealed record Order(long Line, int Id, string Customer, decimal Amount, string Currency)
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
    /// Parses the record of one input line; throws <see cref="RejectedRecordException"/> with the
    /// reason for a malformed one (or a line too long to read), so the pipeline dead-letters it.
    /// </summary>
    public static Order Parse(InputLine input)
    {
        if (input.Text is null)
        {
            throw new RejectedRecordException(input.Number, string.Create(CultureInfo.InvariantCulture, $"longer than {LineReader.MaxLineLength:N0} characters"));
        }

        return TryParse(input.Number, input.Text, out Order? order, out string? reason)
            ? order
            : throw new RejectedRecordException(input.Number, reason);
    }

    /// <summary>Converts the amount to euros; an amount too large to convert rejects the record.</summary>
    public Order InEuro()
    {
        try
        {
            return this with { Amount = decimal.Round(Amount * ToEuro[Currency], 2), Currency = "EUR" };
        }
        catch (OverflowException)
        {
            throw new RejectedRecordException(Line, $"amount too large to convert: {Text.Echo(Amount.ToString(CultureInfo.InvariantCulture))}");
        }
    }

    public string ToCsv() => string.Create(CultureInfo.InvariantCulture, $"{Id},{Customer},{Amount},{Currency}");

    private static bool TryParse(long number, string line, [NotNullWhen(true)] out Order? order, [NotNullWhen(false)] out string? reason)
    {
        order = null;
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

        order = new Order(number, id, fields[1], amount, fields[3]);
        reason = null;
        return true;
    }
}
