namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>Tells whether nothing keeps an object alive any more.</summary>
internal static class Collected
{
    private const int Rounds = 100;

    /// <summary>
    /// Collects garbage until the object behind <paramref name="reference"/> is gone, yielding the
    /// thread between rounds: an awaited call may have run the caller's continuation on its own
    /// stack, whose frames still hold the object until they unwind. An object something keeps
    /// stays alive through every round.
    /// </summary>
    /// <param name="reference">The object to watch.</param>
    /// <returns><see langword="true"/> once it has been collected; <see langword="false"/> when it survived every round.</returns>
    public static async Task<bool> IsCollectedAsync(this WeakReference reference)
    {
        for (int round = 0; round < Rounds; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (!reference.IsAlive)
            {
                return true;
            }

            await Task.Yield();
        }

        return false;
    }
}
