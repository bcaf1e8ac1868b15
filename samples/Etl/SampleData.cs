using System.Globalization;
using System.Text;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>Makes the sample's input: order records as CSV, a few of them malformed on purpose.</summary>
internal static class SampleData
{
    public const int Records = 20_000;

    /// <summary>Writes the input file on first run, and returns its path.</summary>
    public static string EnsureInputFile()
    {
        string folder = Path.Combine(Path.GetTempPath(), "jobs-dataflow-etl");
        string path = Path.Combine(folder, "orders.csv");
        if (File.Exists(path))
        {
            return path;
        }

        Directory.CreateDirectory(folder);
        string[] currencies = ["EUR", "USD", "GBP", "CHF"];
        var random = new Random(42);
        var text = new StringBuilder("id,customer,amount,currency\n");
        for (int id = 1; id <= Records; id++)
        {
            // Every 2,500th record is malformed, to show that a failing item degrades the job's
            // health and is counted, while the job goes on with the next one.
            string amount = id % 2_500 == 0 ? "n/a" : (random.Next(100, 100_000) / 100m).ToString(CultureInfo.InvariantCulture);
            text.Append(CultureInfo.InvariantCulture, $"{id},customer-{random.Next(1, 500)},{amount},{currencies[random.Next(currencies.Length)]}\n");
        }

        File.WriteAllText(path, text.ToString());
        Console.WriteLine($"Generated {Records:N0} records.");
        return path;
    }
}
