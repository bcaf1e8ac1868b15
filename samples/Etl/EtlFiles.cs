using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// The files of a run: the input, opened once (a FIFO cannot be opened twice), and the output and
/// rejects files, which never replace the input.
/// </summary>
internal sealed class EtlFiles : IAsyncDisposable
{
    private static readonly StringComparison PathComparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS()
        ? StringComparison.OrdinalIgnoreCase
        : StringComparison.Ordinal;

    private EtlFiles(string inputPath, string outputPath, string rejectsPath, TextReader input, TextWriter output, TextWriter rejects)
    {
        InputPath = inputPath;
        OutputPath = outputPath;
        RejectsPath = rejectsPath;
        Input = input;
        Output = output;
        Rejects = rejects;
    }

    public string InputPath { get; }

    public string OutputPath { get; }

    public string RejectsPath { get; }

    public TextReader Input { get; }

    public TextWriter Output { get; }

    public TextWriter Rejects { get; }

    /// <summary>
    /// Opens the input, then creates the output (<paramref name="output"/>, or <c>NAME.eur.EXT</c>
    /// next to the input) and the rejects file (<c>OUTPUT-NAME.rejects.EXT</c> next to the output).
    /// </summary>
    /// <returns>False, with a one-line <paramref name="error"/> naming the file, when a file cannot be opened or the output would be the input.</returns>
    public static bool TryOpen(string input, string? output, [NotNullWhen(true)] out EtlFiles? files, [NotNullWhen(false)] out string? error)
    {
        files = null;
        string inputPath, outputPath;
        try
        {
            inputPath = Path.GetFullPath(input);
            outputPath = output is null ? WithSuffix(inputPath, ".eur") : Path.GetFullPath(output);
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or NotSupportedException)
        {
            error = $"Invalid path '{input}'{(output is null ? string.Empty : $" or '{output}'")}: {OneLine(ex.Message)}";
            return false;
        }

        string rejectsPath = WithSuffix(outputPath, ".rejects");
        if (Directory.Exists(inputPath))
        {
            error = $"Cannot read the input file '{inputPath}': it is a directory.";
            return false;
        }

        // Compared as paths (through symbolic links) for a clear message. Another name for the same
        // file (a hard link, a linked folder) is caught when the output is created: the input is
        // open, and an exclusive open of the same file fails before anything is truncated.
        if (SameFile(inputPath, outputPath) || SameFile(inputPath, rejectsPath))
        {
            string which = SameFile(inputPath, outputPath) ? "output" : "rejects";
            error = $"Refusing to write the {which} over the input file '{inputPath}': pass another output path.";
            return false;
        }

        FileStream inputStream;
        try
        {
            // FileShare.ReadWrite: reading a file that another program still appends to is fine.
            inputStream = new FileStream(inputPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"Cannot read the input file '{inputPath}': {Reason(ex)}";
            return false;
        }

        var reader = new StreamReader(inputStream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024);
        if (!TryCreate(outputPath, out TextWriter? outputWriter, out error))
        {
            reader.Dispose();
            return false;
        }

        if (!TryCreate(rejectsPath, out TextWriter? rejectsWriter, out error))
        {
            reader.Dispose();
            outputWriter.Dispose();
            return false;
        }

        files = new EtlFiles(inputPath, outputPath, rejectsPath, reader, outputWriter, rejectsWriter);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        Input.Dispose();
        await Output.DisposeAsync().ConfigureAwait(false);
        await Rejects.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary><c>dir/orders.csv</c> with <c>.eur</c> is <c>dir/orders.eur.csv</c>; a name without an extension gets <c>.csv</c>.</summary>
    private static string WithSuffix(string path, string suffix)
    {
        string extension = Path.GetExtension(path);
        return Path.Combine(Path.GetDirectoryName(path) ?? string.Empty, Path.GetFileNameWithoutExtension(path) + suffix + (extension.Length > 0 ? extension : ".csv"));
    }

    private static bool SameFile(string a, string b) => string.Equals(Resolve(a), Resolve(b), PathComparison);

    private static string Resolve(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path; // not there (yet), or a broken link: the path itself
        }
    }

    private static bool TryCreate(string path, [NotNullWhen(true)] out TextWriter? writer, [NotNullWhen(false)] out string? error)
    {
        try
        {
            // FileShare.None: the exclusive open fails if this is the input under another name.
            var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
            writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            error = null;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            writer = null;
            error = $"Cannot write the file '{path}': {Reason(ex)}";
            return false;
        }
    }

    private static string Reason(Exception error) => error switch
    {
        FileNotFoundException => "it does not exist.",
        DirectoryNotFoundException => "its folder does not exist.",
        UnauthorizedAccessException => "access is denied.",
        _ => OneLine(error.Message),
    };

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
