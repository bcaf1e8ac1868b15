using System.Runtime.CompilerServices;

namespace Jobs.Dataflow;

/// <summary>
/// What a group tells a test kit about its work: which jobs are busy (see
/// <see cref="JobGroup.DescribeBusy"/>), and a stamp that moves whenever user code starts or ends
/// in one of them, so that a kit can tell "idle twice in a row" from "idle twice, with work
/// in between".
/// </summary>
/// <remarks>
/// Made only for a registry created by the test kit. Without one, jobs hold a
/// <see langword="null"/> tracker, and what tracking costs them is a null check around user code.
/// </remarks>
internal sealed class IdleTracker
{
    // Kept here rather than in each context: a job of a group without a kit carries no field for it.
    private readonly ConditionalWeakTable<JobContext, WorkCounter> _counters = [];
    private long _stamp;

    /// <summary>Gets a number that changes whenever user code starts or ends in a job of the group.</summary>
    public long Stamp => Interlocked.Read(ref _stamp);

    /// <summary>Gets the counter of user code in flight of one job, made on first use.</summary>
    public WorkCounter CounterFor(JobContext context) => _counters.GetValue(context, _ => new WorkCounter(this));

    /// <summary>Moves the stamp.</summary>
    public void Touch() => Interlocked.Increment(ref _stamp);
}
