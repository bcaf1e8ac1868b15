using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>The checks of Dataflow limits given by the user: capacities, parallelism, batch sizes.</summary>
internal static class DataflowLimits
{
    /// <summary>
    /// The largest batch a batch stage makes. A bounded <see cref="BatchBlock{T}"/> sets aside about
    /// 100 bytes per item of a batch when it is built, before any item arrives: 100 MB at this size,
    /// and an <see cref="OutOfMemoryException"/> on the job's thread, long after the call, for sizes
    /// near <see cref="int.MaxValue"/>.
    /// </summary>
    public const int MaxBatchSize = 1_000_000;

    /// <summary>Returns <paramref name="value"/> when it is positive or <see cref="DataflowBlockOptions.Unbounded"/>: the check of a capacity or a parallelism given in options.</summary>
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
