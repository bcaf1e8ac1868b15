using System.Runtime.CompilerServices;
using System.Text;

namespace Jobs.Dataflow.Samples.Etl;

/// <summary>
/// Reads lines with a bounded length. <c>File.ReadLinesAsync</c> or <c>ReadLineAsync</c> would build
/// a line of any length in memory: a file of hundreds of megabytes without a newline would become
/// one huge string. This reader keeps at most <see cref="MaxLineLength"/> characters of a line; a
/// longer one is skipped up to its newline and returned without its text, so that it can be rejected
/// by its number.
/// </summary>
internal static class LineReader
{
    /// <summary>The longest line kept, in characters (1 MiB); a valid record is a few dozen.</summary>
    public const int MaxLineLength = 1 << 20;

    private const int BufferSize = 64 * 1024;

    /// <summary>Reads the lines of <paramref name="reader"/>; a line ends at <c>\n</c>, and a <c>\r</c> before it is dropped.</summary>
    public static async IAsyncEnumerable<InputLine> ReadAsync(TextReader reader, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        char[] buffer = new char[BufferSize];
        var pending = new StringBuilder();  // the start of a line that spans buffers
        bool tooLong = false;               // the current line passed the limit: skip to its end
        long number = 1;
        while (true)
        {
            // A read from a pipe, a FIFO or a terminal does not observe its token; WaitAsync lets a
            // stop end the wait anyway. The abandoned read is never awaited, and this reader is not
            // used again.
            int count = await reader.ReadAsync(buffer, cancellationToken).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                break;
            }

            int start = 0;
            while (start < count)
            {
                int newline = Array.IndexOf(buffer, '\n', start, count - start);
                int end = newline < 0 ? count : newline;
                if (!tooLong)
                {
                    if (pending.Length + (end - start) > MaxLineLength)
                    {
                        tooLong = true;
                        pending.Clear();
                    }
                    else if (newline < 0 || pending.Length > 0)
                    {
                        pending.Append(buffer, start, end - start);
                    }
                }

                if (newline < 0)
                {
                    break; // the line goes on in the next buffer
                }

                string? text = null;
                if (!tooLong)
                {
                    // Most lines fit in the buffer: take them from it without the builder.
                    text = WithoutCarriageReturn(pending.Length > 0 ? pending.ToString() : new string(buffer, start, end - start));
                }

                yield return new InputLine(number++, text);
                pending.Clear();
                tooLong = false;
                start = newline + 1;
            }
        }

        if (tooLong || pending.Length > 0)
        {
            // The last line, without a newline at its end.
            string? text = tooLong ? null : WithoutCarriageReturn(pending.ToString());
            yield return new InputLine(number, text);
        }
    }

    private static string WithoutCarriageReturn(string line) => line.EndsWith('\r') ? line[..^1] : line;
}
