using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>The check of a Dataflow limit (capacity, parallelism) given in options: positive, or -1 for unbounded.</summary>
internal static class DataflowLimits
{
    /// <summary>Returns <paramref name="value"/> when it is positive or <see cref="DataflowBlockOptions.Unbounded"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is 0 or below -1; the exception names <paramref name="name"/>.</exception>
    public static int Check(int value, string name)
    {
        if (value != DataflowBlockOptions.Unbounded)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        }

        return value;
    }
}
