using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Jobs.Dataflow;

/// <summary>Sanitizes job names the way the Go original does, so names match across both.</summary>
internal static class JobName
{
    private const int MaxBytes = 100;
    private const int KeptCharsWhenHashed = 90;
    private const int HashBytes = 5;

    private static readonly SearchValues<char> Allowed = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

    /// <summary>
    /// Keeps only <c>[a-zA-Z0-9_-]</c> from the first 100 bytes of the UTF-8 form. If anything was
    /// dropped or the name was longer, cuts the kept part to 90 characters and appends <c>-</c>
    /// and the first 10 hex digits of the SHA-256 of the whole original UTF-8 name.
    /// </summary>
    public static string Sanitize(string name, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, paramName);

        // The common case, a name that is already clean, allocates nothing. Every allowed character
        // is ASCII, so such a name's UTF-8 form is as long as the name.
        if (name.Length <= MaxBytes && !name.AsSpan().ContainsAnyExcept(Allowed))
        {
            return name;
        }

        byte[] utf8 = Encoding.UTF8.GetBytes(name);
        int scanned = Math.Min(utf8.Length, MaxBytes);
        var kept = new StringBuilder(scanned);
        for (int i = 0; i < scanned; i++)
        {
            byte b = utf8[i];
            if (IsAllowed(b))
            {
                kept.Append((char)b);
            }
        }

        // A name that is short and clean returned above: here a character was dropped or the name cut.
        kept.Length = Math.Min(kept.Length, KeptCharsWhenHashed);
        byte[] hash = SHA256.HashData(utf8);
        return kept.Append('-').Append(Convert.ToHexStringLower(hash, 0, HashBytes)).ToString();
    }

    private static bool IsAllowed(byte b) =>
        b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'_' or (byte)'-';
}
