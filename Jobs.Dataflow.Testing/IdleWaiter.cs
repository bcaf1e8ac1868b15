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

    // Steps that do not move the clock (timers due now), in a row, before the advance gives up.
    private const int MaxStepsInPlace = 10_000;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    private readonly JobGroup _group;
    private readonly IdleTracker? _tracker;
    private readonly TestClock _clock;
    private readonly TimeSpan _timeout;

    /// <summary>Initializes a new instance of the <see cref="IdleWaiter"/> class.</summary>
    /// <param name="group">The group; the waits for idle need a registry that tracks idleness, the other waits do not.</param>
    /// <param name="clock">The group's clock.</param>
    /// <param name="timeout">How long a wait waits, in real time.</param>
    public IdleWaiter(JobGroup group, TestClock clock, TimeSpan timeout)
    {
        _group = group;
        _tracker = group.Tracker;
        _clock = clock;
        _timeout = timeout;
    }

    public async Task WaitUntilIdleAsync()
    {
        IdleTracker tracker = _tracker ?? throw new InvalidOperationException("The group's registry does not track idleness: make it with the test kit.");
        long started = TimeProvider.System.GetTimestamp();
        long stamp = -1;
        int confirmed = 0;
        while (true)
        {
            ThrowIfACallbackFailed();

            // The stamp first: user code that starts and ends during the look at the jobs moves it.
            long now = tracker.Stamp;
            List<string> busy = _group.DescribeBusy();
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
        DateTimeOffset now = _clock.GetUtcNow();

        // Past the clock's last instant the addition below would throw naming its own parameter.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(span, DateTimeOffset.MaxValue - now);
        DateTimeOffset target = now + span;
        await WaitUntilIdleAsync().ConfigureAwait(false);
        int inPlace = 0;
        while (true)
        {
            now = _clock.GetUtcNow();
            DateTimeOffset step = _clock.NextDue is { } due && due <= target ? (due < now ? now : due) : target;
            inPlace = step == now ? inPlace + 1 : 0;
            if (inPlace > MaxStepsInPlace)
            {
                throw new InvalidOperationException(
                    $"Timers kept falling due at {now:O} without the clock moving; a timer may re-arm itself for the current time.");
            }

            _clock.Advance(step - now);
            await WaitUntilIdleAsync().ConfigureAwait(false);
            if (step >= target && (_clock.NextDue is not { } next || next > target))
            {
                return;
            }
        }
    }

    /// <summary>Rethrows what a timer callback threw, kept by the clock so that the fake clock's later timers still fire.</summary>
    public void ThrowIfACallbackFailed()
    {
        if (_clock.CallbackErrors is { Count: > 0 } errors)
        {
            throw new InvalidOperationException("A timer callback of the kit's clock threw; see the inner exception.", errors[0]);
        }
    }

    public Task WaitForTimerArmedAsync(string jobName)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobName);
        string name = JobName.Sanitize(jobName, nameof(jobName));
        return WaitForAsync(
            () => _group.FindActive(name) is { Settled: true, Job.Kind: JobKinds.Timer } context ? context : null,
            () => $"No timer job {name} armed its timer within {_timeout}. {DescribeTimers()}");
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

    /// <summary>Names the timer jobs that are running, so a misspelt name shows at once.</summary>
    private string DescribeTimers()
    {
        List<string> timers = _group.ActiveNames(JobKinds.Timer);
        return timers.Count == 0 ? "No timer job is running." : $"Timer jobs running: {string.Join(", ", timers)}.";
    }
}
