namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>Lock-free helpers for counters that handlers on several threads update.</summary>
internal static class Atomic
{
    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if it is larger.</summary>
    public static void Max(ref int target, int value)
    {
        int current = Volatile.Read(ref target);
        while (value > current)
        {
            int seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
