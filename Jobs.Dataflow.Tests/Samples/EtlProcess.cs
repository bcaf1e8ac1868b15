using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace Jobs.Dataflow.Tests.Samples;

/// <summary>
/// Runs the ETL sample's <c>Etl.dll</c> as a separate process, with its own temp folder, and
/// collects its output line by line. Every wait is bounded: a sample that hangs is killed, and
/// the test fails with what it printed.
/// </summary>
internal sealed class EtlProcess : IDisposable
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly object _gate = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Seen)> _waiters = [];

    private EtlProcess(Process process)
    {
        _process = process;
    }

    /// <summary>Gets the path of the sample's Etl.dll, built with the tests (see the test project file).</summary>
    public static string DllPath { get; } = typeof(EtlProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "EtlSample").Value!;

    public int Id => _process.Id;

    /// <summary>Starts <c>dotnet Etl.dll ARGS</c> in <paramref name="folder"/>, which is also its temp folder.</summary>
    /// <param name="folder">The working directory and temp folder of the sample.</param>
    /// <param name="args">The sample's arguments.</param>
    /// <param name="environment">More environment variables.</param>
    /// <param name="prefix">A command (with its arguments) that runs dotnet, such as <c>env --default-signal=INT</c>.</param>
    public static EtlProcess Start(string folder, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, IEnumerable<string>? prefix = null)
    {
        Assert.IsTrue(File.Exists(DllPath), $"The sample is not built at {DllPath}.");
        List<string> command = [.. prefix ?? [], DotnetHost(), DllPath, .. args];
        var start = new ProcessStartInfo(command[0])
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (string arg in command.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        // The sample's generated input goes to the temp folder: keep it in the test's own.
        start.Environment["TMPDIR"] = folder;
        start.Environment["TMP"] = folder;
        start.Environment["TEMP"] = folder;
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var etl = new EtlProcess(process);

        // Read both pipes as they fill: a full pipe would block the sample.
        process.OutputDataReceived += (_, e) => etl.Received(e.Data, etl._stdout, match: true);
        process.ErrorDataReceived += (_, e) => etl.Received(e.Data, etl._stderr, match: false);
        Assert.IsTrue(process.Start(), "The sample did not start.");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return etl;
    }

    /// <summary>Runs the sample to its end.</summary>
    public static async Task<EtlResult> RunAsync(string folder, params string[] args)
    {
        using EtlProcess etl = Start(folder, args);
        return await etl.WaitForExitAsync();
    }

    /// <summary>Waits until a line of the sample's standard output matches <paramref name="pattern"/>.</summary>
    public async Task<Match> WaitForOutputAsync(Regex pattern)
    {
        var seen = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (string line in _stdout.ToString().Split('\n'))
            {
                if (pattern.Match(line) is { Success: true } match)
                {
                    return match;
                }
            }

            _waiters.Add((pattern, seen));
        }

        try
        {
            // An exit ends the wait too: WaitForExitAsync also waits for the end of the output.
            await Task.WhenAny(seen.Task, _process.WaitForExitAsync()).WaitAsync(HangGuard);
        }
        catch (TimeoutException)
        {
        }

        if (!seen.Task.IsCompleted)
        {
            Fail($"The sample {(HasExited() ? "exited" : "went on")} without printing a line matching /{pattern}/.");
        }

        return await seen.Task;
    }

    /// <summary>Sends a signal with <c>kill -NAME PID</c>.</summary>
    public async Task SignalAsync(string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(HangGuard);
        Assert.AreEqual(0, kill.ExitCode, $"kill -{name} {Id} failed.");
    }

    /// <summary>Waits for the sample to exit and for its output to end; kills it and fails the test when it hangs.</summary>
    public async Task<EtlResult> WaitForExitAsync()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        try
        {
            // Also waits for the end of both redirected streams.
            await _process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException) when (guard.IsCancellationRequested)
        {
            Fail($"The sample did not exit within {HangGuard.TotalSeconds} s.");
        }

        lock (_gate)
        {
            return new EtlResult(_process.ExitCode, _stdout.ToString(), _stderr.ToString());
        }
    }

    public void Dispose()
    {
        if (!HasExited())
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    /// <summary>The dotnet host that runs the tests, so that the sample runs on the same runtime.</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        string? current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "..." + text[^4000..];

    private bool HasExited()
    {
        try
        {
            return _process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true; // never started
        }
    }

    private void Received(string? line, StringBuilder text, bool match)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            text.Append(line).Append('\n');
            if (!match)
            {
                return;
            }

            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Pattern.Match(line) is { Success: true } found)
                {
                    _waiters[i].Seen.TrySetResult(found);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private void Fail(string message)
    {
        string stdout, stderr;
        lock (_gate)
        {
            stdout = _stdout.ToString();
            stderr = _stderr.ToString();
        }

        if (!HasExited())
        {
            _process.Kill(entireProcessTree: true);
        }

        Assert.Fail($"{message}\n--- stdout:\n{Tail(stdout)}\n--- stderr:\n{Tail(stderr)}");
    }
}
