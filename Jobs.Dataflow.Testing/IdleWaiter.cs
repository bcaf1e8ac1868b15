namespace Jobs.Dataflow.Testing;

/// <summary>
/// The waits of the kit on one group: until idle, across a span of the fake clock timer by timer,
/// and for a condition, each bounded by a timeout of real time.
/// </summary>
/// <remarks>
/// Idle is read from the group (<see cref="JobGroup.DescribeBusy"/>), and confirmed by two more
/// checks in a row that find nothing busy and no user code started or ended since (the tracker's
/// stamp): an item that moves between two blocks is seen by one of the checks.
/// </remarks>
internal sealed class IdleWaiter
{
    private const int Confirmations = 2;
    private const int MaxSteps = 100_000;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    private readonly JobGroup _group;
    private readonly IdleTracker _tracker;
    private readonly TestClock _clock;
    private readonly TimeSpan _timeout;

    /// <summary>Initializes a new instance of the <see cref="IdleWaiter"/> class.</summary>
    /// <param name="group">A group of a registry that tracks idleness.</param>
    /// <param name="clock">The group's clock.</param>
    /// <param name="timeout">How long a wait waits, in real time.</param>
    public IdleWaiter(JobGroup group, TestClock clock, TimeSpan timeout)
    {
        _group = group;
        _tracker = group.Tracker ?? throw new ArgumentException("The group's registry does not track idleness.", nameof(group));
        _clock = clock;
        _timeout = timeout;
    }

    public async Task WaitUntilIdleAsync()
    {
        long started = TimeProvider.System.GetTimestamp();
        long stamp = -1;
        int confirmed = 0;
        while (true)
        {
            List<string> busy = _group.DescribeBusy();
            long now = _tracker.Stamp;
            if (busy.Count == 0)
            {
                confirmed = now == stamp ? confirmed + 1 : 0;
                if (confirmed >= Confirmations)
                {
                    return;
                }

                stamp = now;
            }
            else
            {
                confirmed = 0;
                stamp = -1;
            }

            if (TimeProvider.System.GetElapsedTime(started) > _timeout)
            {
                throw new TimeoutException(
                    $"The jobs were still busy after {_timeout}: {(busy.Count == 0 ? "user code kept starting and ending" : string.Join("; ", busy))}.");
            }

            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }

    public async Task AdvanceAsync(TimeSpan span)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(span, TimeSpan.Zero);
        DateTimeOffset target = _clock.GetUtcNow() + span;
        await WaitUntilIdleAsync().ConfigureAwait(false);
        for (int steps = 0; ; steps++)
        {
            if (steps == MaxSteps)
            {
                throw new InvalidOperationException($"{MaxSteps} timers fell due before {target:O}; a timer may re-arm itself for the current time.");
            }

            DateTimeOffset now = _clock.GetUtcNow();
            DateTimeOffset step = _clock.NextDue is { } due && due <= target ? (due < now ? now : due) : target;
            _clock.Advance(step - now);
            await WaitUntilIdleAsync().ConfigureAwait(false);
            if (step >= target && (_clock.NextDue is not { } next || next > target))
            {
                return;
            }
        }
    }

    public Task WaitForTimerArmedAsync(string jobName)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobName);
        string name = JobName.Sanitize(jobName, nameof(jobName));
        return WaitForAsync(
            () => _group.FindActive(name) is { Settled: true, Job.Kind: JobKinds.Timer } context ? context : null,
            () => $"No timer job {name} armed its timer within {_timeout}.");
    }

    public async Task<T> WaitForAsync<T>(Func<T?> probe, Func<string> describe)
        where T : class
    {
        long started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            if (probe() is { } found)
            {
                return found;
            }

            if (TimeProvider.System.GetElapsedTime(started) > _timeout)
            {
                throw new TimeoutException(describe());
            }

            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }
}
