using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Jobs.Dataflow.Tests.Samples;

/// <summary>
/// Runs the ETL sample (<c>samples/Etl</c>) as a process on ordinary bad input: missing files,
/// bad records of every kind, huge lines, an output that would replace the input, signals.
/// </summary>
[TestClass]
public sealed partial class EtlSampleTests
{
    private const string Header = "id,customer,amount,currency";

    private string _folder = null!;

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("etl-sample-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [TestMethod]
    public async Task Run_MissingInput_PrintsOneLineAndExits2()
    {
        string missing = Path.Combine(_folder, "missing.csv");

        EtlResult result = await EtlProcess.RunAsync(_folder, missing);

        AssertRefused(result, missing, "does not exist");
        Assert.IsEmpty(Directory.GetFileSystemEntries(_folder), "Nothing is written for a missing input.");
    }

    [TestMethod]
    public async Task Run_DirectoryAsInput_PrintsOneLineAndExits2()
    {
        string directory = Directory.CreateDirectory(Path.Combine(_folder, "orders.csv")).FullName;

        EtlResult result = await EtlProcess.RunAsync(_folder, directory);

        AssertRefused(result, directory, "is a directory");
    }

    [TestMethod]
    public async Task Run_TooManyArguments_PrintsUsageAndExits2()
    {
        EtlResult result = await EtlProcess.RunAsync(_folder, "a.csv", "b.csv", "c.csv");

        AssertRefused(result, "Usage", "INPUT");
    }

    [TestMethod]
    public async Task Run_BadRecordsOfEveryKind_RejectsEachWithItsLineAndReasonAndExits0()
    {
        string longAmount = new('9', 200);
        var expectedRejects = new Dictionary<int, string>
        {
            [3] = "expected 4 fields, found 3",
            [4] = "expected 4 fields, found 5",
            [5] = "id is not a positive integer: \"abc\"",
            [6] = "id is not a positive integer: \"99999999999\"",
            [7] = "id is not a positive integer: \"-5\"",
            [8] = "amount is not a decimal number: \"n/a\"",
            [9] = "amount is not a decimal number: \"123456789012345678901234567890123\"",
            [10] = "amount too large to convert: \"79228162514264337593543950335\"",
            [11] = "unknown currency: \"XYZ\"",
            [12] = "expected 4 fields, found 1",
            [15] = "amount is not a decimal number: \"" + longAmount[..40] + "...\" (200 characters)",
        };
        string text = $"""
            {Header}
            1,alice,10.00,EUR
            2,bob,5
            3,carol,1.00,EUR,extra
            abc,dave,1.00,EUR
            99999999999,erin,1.00,EUR
            -5,frank,1.00,EUR
            8,grace,n/a,USD
            9,heidi,123456789012345678901234567890123,USD
            10,ivan,79228162514264337593543950335,GBP
            11,judy,1.00,XYZ

            """;
        var input = new MemoryStream();
        WriteText(input, text);
        input.Write([0x00, 0x01, 0xFF, 0xFE, 0x1B, (byte)'[', (byte)'2', (byte)'J', 0x07, (byte)'\n']); // line 12: binary
        WriteText(input, $"13,mallory,2.50,USD\n\n15,peggy,{longAmount},EUR\n");                     // line 14: blank, skipped
        string path = WriteFile("orders.csv", input.ToArray());

        EtlResult result = await EtlProcess.RunAsync(_folder, path);

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual((13L, 2L, 11L, 0L), result.Summary, result.ToString());
        Assert.AreEqual(11, result.RejectedLogLines, "One log line per rejected record.");
        AssertQuiet(result);
        CollectionAssert.AreEqual(
            new[] { Header, "1,alice,10.00,EUR", "13,mallory,2.30,EUR" },
            File.ReadAllLines(Path.Combine(_folder, "orders.eur.csv")));

        string[] rejects = File.ReadAllLines(Path.Combine(_folder, "orders.eur.rejects.csv"));
        Assert.AreEqual("line,reason,record", rejects[0]);
        Assert.HasCount(expectedRejects.Count, rejects[1..]);
        foreach (string reject in rejects[1..])
        {
            int line = int.Parse(reject[..reject.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            Assert.IsTrue(expectedRejects.TryGetValue(line, out string? reason), $"Line {line} is not bad: {reject}");
            StringAssert.Contains(reject, reason.Replace("\"", "\"\"", StringComparison.Ordinal), "The rejects file quotes the reason as a CSV field.");
            StringAssert.Contains(result.StdOut, $"Rejected line {line}: {reason}");
        }

        Assert.AreEqual(
            "Health check: Degraded\n"
            + "  root/etl/pipeline-job-orders/stage-parse: Completed [out 3, failed 10]\n"
            + "  root/etl/pipeline-job-orders/stage-convert: Completed [out 2, failed 1]",
            result.HealthVerdict);
    }

    [TestMethod]
    [DataRow(true, DisplayName = "a 20 MB line, then a record")]
    [DataRow(false, DisplayName = "a 20 MB last line without a newline")]
    public async Task Run_LineOf20MB_RejectsItByNumberInBoundedMemoryWithoutEchoingIt(bool moreAfter)
    {
        var input = new MemoryStream();
        WriteText(input, $"{Header}\n1,alice,1.00,EUR\n");
        input.Write(Enumerable.Repeat((byte)'7', 20_000_000).ToArray());
        WriteText(input, moreAfter ? "\n3,bob,2.00,EUR\n" : string.Empty);
        string path = WriteFile("orders.csv", input.ToArray());

        // A GC heap of 32 MiB: building the line as a string would take 40 MB for that string alone.
        using var etl = EtlProcess.Start(_folder, [path], new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x2000000" });
        EtlResult result = await etl.WaitForExitAsync();

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual(moreAfter ? (3L, 2L, 1L, 0L) : (2L, 1L, 1L, 0L), result.Summary, result.ToString());
        Assert.AreEqual(1, result.RejectedLogLines);
        StringAssert.Contains(result.StdOut, "Rejected line 3: longer than 1,048,576 characters");
        Assert.IsLessThan(10_000, result.StdOut.Length + result.StdErr.Length, "The huge line must not be echoed.");
        AssertQuiet(result);
        CollectionAssert.AreEqual(
            new[] { "line,reason,record", "3,\"longer than 1,048,576 characters\",\"\"" },
            File.ReadAllLines(Path.Combine(_folder, "orders.eur.rejects.csv")));
    }

    [TestMethod]
    public async Task Run_BinaryGarbage_RejectsEveryLineOnOneLogLineEachAndExits0()
    {
        byte[] garbage = new byte[256 * 1024];
        new Random(7).NextBytes(garbage);
        garbage[0] = (byte)'x'; // not a byte order mark: the file stays UTF-8
        string path = WriteFile("orders.csv", garbage);
        long lines = CountNonBlankLines(garbage);

        EtlResult result = await EtlProcess.RunAsync(_folder, path);

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual((lines, 0L, lines, 0L), result.Summary, result.ToString());
        Assert.AreEqual(lines, result.RejectedLogLines, "One log line per rejected record.");
        AssertQuiet(result);
        Assert.AreEqual(
            $"Health check: Degraded\n  root/etl/pipeline-job-orders/stage-parse: Completed [out 0, failed {lines.ToString(CultureInfo.InvariantCulture)}]",
            result.HealthVerdict);
    }

    [TestMethod]
    [DataRow("orders.csv", DisplayName = "the same path")]
    [DataRow("sub/../orders.csv", DisplayName = "the same path spelt differently")]
    public async Task Run_OutputIsTheInput_RefusesAndKeepsTheInput(string output)
    {
        Directory.CreateDirectory(Path.Combine(_folder, "sub"));
        string path = WriteFile("orders.csv", Encoding.UTF8.GetBytes($"{Header}\n1,alice,1.00,EUR\n"));
        byte[] before = File.ReadAllBytes(path);

        EtlResult result = await EtlProcess.RunAsync(_folder, path, Path.Combine(_folder, output));

        AssertRefused(result, path, "output");
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        Assert.IsFalse(File.Exists(Path.Combine(_folder, "orders.rejects.csv")));
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    [DataRow("ln", "-s", DisplayName = "a symbolic link")]
    [DataRow("ln", "-f", DisplayName = "a hard link")]
    public async Task Run_OutputIsALinkToTheInput_RefusesAndKeepsTheInput(string command, string option)
    {
        string path = WriteFile("orders.csv", Encoding.UTF8.GetBytes($"{Header}\n1,alice,1.00,EUR\n"));
        byte[] before = File.ReadAllBytes(path);
        string link = Path.Combine(_folder, "link.csv");
        await RunToolAsync(command, option, path, link);

        EtlResult result = await EtlProcess.RunAsync(_folder, path, link);

        AssertRefused(result, _folder, string.Empty);
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
    }

    [TestMethod]
    public async Task Run_RejectsFileWouldBeTheInput_RefusesAndKeepsTheInput()
    {
        string path = WriteFile("orders.rejects.csv", Encoding.UTF8.GetBytes($"{Header}\n1,alice,1.00,EUR\n"));
        byte[] before = File.ReadAllBytes(path);

        EtlResult result = await EtlProcess.RunAsync(_folder, path, Path.Combine(_folder, "orders.csv"));

        AssertRefused(result, path, "rejects");
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        Assert.IsFalse(File.Exists(Path.Combine(_folder, "orders.csv")));
    }

    [TestMethod]
    [DataRow("orders-eur.csv", "orders-eur.eur.csv", DisplayName = "the output name of the old sample")]
    [DataRow("orders.eur.csv", "orders.eur.eur.csv", DisplayName = "the default output name of orders.csv")]
    [DataRow("orders", "orders.eur.csv", DisplayName = "no extension")]
    public async Task Run_InputNamedLikeAnOutput_WritesBesideItAndKeepsTheInput(string name, string outputName)
    {
        string path = WriteFile(name, Encoding.UTF8.GetBytes($"{Header}\n1,alice,1.00,EUR\n"));
        byte[] before = File.ReadAllBytes(path);

        EtlResult result = await EtlProcess.RunAsync(_folder, path);

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        CollectionAssert.AreEqual(new[] { Header, "1,alice,1.00,EUR" }, File.ReadAllLines(Path.Combine(_folder, outputName)));
    }

    [TestMethod]
    public async Task Run_SameBadInputTwice_GivesTheSameDegradedVerdict()
    {
        // Every record is malformed: the verdict must say so every time, whichever job reports last.
        var text = new StringBuilder(Header).Append('\n');
        for (int id = 1; id <= 705; id++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{id},customer-{id},n/a,EUR\n");
        }

        string[] folders = [Directory.CreateDirectory(Path.Combine(_folder, "a")).FullName, Directory.CreateDirectory(Path.Combine(_folder, "b")).FullName];
        foreach (string folder in folders)
        {
            File.WriteAllText(Path.Combine(folder, "orders.csv"), text.ToString());
        }

        EtlResult[] results = await Task.WhenAll(folders.Select(folder => EtlProcess.RunAsync(folder, Path.Combine(folder, "orders.csv"))));

        foreach (EtlResult result in results)
        {
            Assert.AreEqual(0, result.ExitCode, result.ToString());
            Assert.AreEqual((705L, 0L, 705L, 0L), result.Summary, result.ToString());
            Assert.AreEqual("Health check: Degraded\n  root/etl/pipeline-job-orders/stage-parse: Completed [out 0, failed 705]", result.HealthVerdict);
        }
    }

    [TestMethod]
    public async Task Run_CleanInput_PrintsHealthyAndExits0()
    {
        // A byte order mark, CRLF line ends, a blank line, and a last line without a newline.
        byte[] bom = [0xEF, 0xBB, 0xBF];
        string path = WriteFile("orders.csv", [.. bom, .. Encoding.UTF8.GetBytes($"{Header}\r\n1,alice,10.00,EUR\r\n\r\n2,bob,100,USD\r\n3,carol,-1.5,GBP\r\n4,dave,0.99,CHF")]);

        EtlResult result = await EtlProcess.RunAsync(_folder, path);

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual((4L, 4L, 0L, 0L), result.Summary, result.ToString());
        Assert.AreEqual("Health check: Healthy", result.HealthVerdict);
        AssertQuiet(result);
        CollectionAssert.AreEqual(
            new[] { Header, "1,alice,10.00,EUR", "2,bob,92.00,EUR", "3,carol,-1.76,EUR", "4,dave,1.04,EUR" },
            File.ReadAllLines(Path.Combine(_folder, "orders.eur.csv")));
        CollectionAssert.AreEqual(new[] { "line,reason,record" }, File.ReadAllLines(Path.Combine(_folder, "orders.eur.rejects.csv")));
    }

    [TestMethod]
    [DataRow("", DisplayName = "empty")]
    [DataRow(Header + "\n", DisplayName = "header only")]
    public async Task Run_NoRecords_PrintsHealthyAndExits0(string text)
    {
        string path = WriteFile("orders.csv", Encoding.UTF8.GetBytes(text));

        EtlResult result = await EtlProcess.RunAsync(_folder, path);

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual((0L, 0L, 0L, 0L), result.Summary, result.ToString());
        Assert.AreEqual("Health check: Healthy", result.HealthVerdict);
    }

    [TestMethod]
    public async Task Run_NoArguments_GeneratesAnInputWithSomeMalformedRecordsAndExits0()
    {
        EtlResult result = await EtlProcess.RunAsync(_folder);

        Assert.AreEqual(0, result.ExitCode, result.ToString());
        StringAssert.Contains(result.StdOut, "Generated 20,000 records.");
        Assert.AreEqual((20_000L, 19_992L, 8L, 0L), result.Summary, result.ToString());
        Assert.AreEqual("Health check: Degraded\n  root/etl/pipeline-job-orders/stage-parse: Completed [out 19992, failed 8]", result.HealthVerdict);
        Assert.HasCount(19_993, File.ReadAllLines(Path.Combine(_folder, "jobs-dataflow-etl", "orders.eur.csv")));
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    [DataRow("INT", 130)]
    [DataRow("TERM", 143)]
    public async Task Run_SignalWhileReadingAFifo_ExitsWith128PlusTheSignalAndASummaryThatAddsUp(string signal, int exitCode)
    {
        // A FIFO that stays open: the sample has handled all that was written and waits for
        // more when the signal comes, so every count is known.
        string fifo = Path.Combine(_folder, "orders.csv");
        await RunToolAsync("mkfifo", fifo);

        // Read-write: on Linux that open does not wait for a reader, and it keeps the FIFO open.
        await using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);

        // A process started with SIGINT ignored (a background job of a script) passes that on,
        // and .NET then leaves SIGINT alone: give the sample the default disposition back.
        string[] prefix = signal == "INT" && IgnoresSigint() ? ["env", "--default-signal=INT"] : [];
        using var etl = EtlProcess.Start(_folder, [fifo], prefix: prefix);

        // 1,497 good records and 3 bad ones: 1,500 queued records fill three batches, so the
        // last flush comes at once rather than at the next 2-second tick.
        var text = new StringBuilder(Header).Append('\n');
        for (int id = 1; id <= 1_500; id++)
        {
            if (id % 500 == 7)
            {
                text.Append(CultureInfo.InvariantCulture, $"{id},bad\n");
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"{id},customer-{id},{id}.25,USD\n");
            }
        }

        await writer.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()));
        await writer.FlushAsync();
        await etl.WaitForOutputAsync(FlushedAll());

        await etl.SignalAsync(signal);
        EtlResult result = await etl.WaitForExitAsync();

        Assert.AreEqual(exitCode, result.ExitCode, result.ToString());
        (long read, long written, long rejected, long dropped) = result.Summary;
        Assert.AreEqual(read, written + rejected + dropped, "read = written + rejected + dropped");
        Assert.AreEqual((1_500L, 1_497L, 3L, 0L), (read, written, rejected, dropped), result.ToString());
        StringAssert.Contains(result.StdOut, $"Interrupted by SIG{signal}.");
        Assert.DoesNotContain("Health check:", result.StdOut, "An interrupted run gives no verdict.");
        AssertQuiet(result);
        Assert.HasCount(1 + 1_497, File.ReadAllLines(Path.Combine(_folder, "orders.eur.csv")));
        Assert.HasCount(1 + 3, File.ReadAllLines(Path.Combine(_folder, "orders.eur.rejects.csv")));
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public async Task Run_InputFailsToRead_Exits1WithSummaryAndUnhealthyVerdict()
    {
        // /proc/self/mem opens, and its first read fails with an I/O error: the source fails mid-run.
        EtlResult result = await EtlProcess.RunAsync(_folder, "/proc/self/mem", Path.Combine(_folder, "orders.eur.csv"));

        Assert.AreEqual(1, result.ExitCode, result.ToString());
        Assert.AreEqual((0L, 0L, 0L, 0L), result.Summary, result.ToString());
        StringAssert.StartsWith(result.HealthVerdict, "Health check: Unhealthy\n  root/etl/pipeline-job-orders: Failed: Source failed");
    }

    /// <summary>A refusal: exit code 2, one line on standard error naming the file, no stack trace, no run.</summary>
    private static void AssertRefused(EtlResult result, string name, string reason)
    {
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.HasCount(1, result.ErrorLines, result.ToString());
        StringAssert.Contains(result.ErrorLines[0], name);
        StringAssert.Contains(result.ErrorLines[0], reason);
        Assert.DoesNotContain("Summary:", result.StdOut);
        AssertNoStackTrace(result);
    }

    /// <summary>Nothing on standard error, no stack trace, and no log line long enough to echo a huge record.</summary>
    private static void AssertQuiet(EtlResult result)
    {
        Assert.AreEqual(string.Empty, result.StdErr, result.ToString());
        AssertNoStackTrace(result);

        // A rejected record's log line: the time, level and scope, the pipeline's message naming job
        // and stage, the exception's type, and the reason with at most one echo of 40 characters.
        string longest = result.StdOut.Split('\n').MaxBy(line => line.Length) ?? string.Empty;
        Assert.IsLessThan(400, longest.Length, $"A line echoes too much: {longest[..Math.Min(longest.Length, 500)]}");
    }

    private static void AssertNoStackTrace(EtlResult result)
    {
        Assert.DoesNotContain("   at ", result.StdOut, result.ToString());
        Assert.DoesNotContain("   at ", result.StdErr, result.ToString());
    }

    private static void WriteText(MemoryStream stream, string text) => stream.Write(Encoding.UTF8.GetBytes(text.Replace("\r\n", "\n", StringComparison.Ordinal)));

    /// <summary>The records the sample reads from <paramref name="bytes"/>: lines split at <c>\n</c>, blank ones aside.</summary>
    private static long CountNonBlankLines(byte[] bytes)
    {
        long count = 0;
        int start = 0;
        for (int i = 0; i <= bytes.Length; i++)
        {
            if (i == bytes.Length || bytes[i] == (byte)'\n')
            {
                int length = i - start;
                bool blank = length == 0 || (length == 1 && bytes[start] == (byte)'\r');
                count += blank ? 0 : 1;
                start = i + 1;
            }
        }

        return count;
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of the SigIgn mask), as its children then do.</summary>
    private static bool IgnoresSigint()
    {
        string line = File.ReadLines("/proc/self/status").First(line => line.StartsWith("SigIgn:", StringComparison.Ordinal));
        ulong ignored = ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return (ignored & (1UL << (2 - 1))) != 0;
    }

    private static async Task RunToolAsync(string command, params string[] args)
    {
        using var tool = Process.Start(command, args);
        await tool.WaitForExitAsync().WaitAsync(EtlProcess.HangGuard);
        Assert.AreEqual(0, tool.ExitCode, $"{command} {string.Join(' ', args)} failed.");
    }

    [GeneratedRegex(@"1497 written so far")]
    private static partial Regex FlushedAll();

    private string WriteFile(string name, byte[] content)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, content);
        return path;
    }
}
