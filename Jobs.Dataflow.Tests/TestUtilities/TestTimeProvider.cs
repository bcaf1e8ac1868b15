using Jobs.Dataflow.Testing;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// The test kit's <see cref="TestClock"/>, which tells when each timer is due, extended to tell when code under test has created a timer, so a
/// test can advance time exactly after a delay or interval was armed, without sleeping, and
/// records when each timer callback ran (callbacks run inside <c>Advance</c>).
/// </summary>
internal class TestTimeProvider : TestClock
{
    private readonly SemaphoreSlim _created = new(0);
    private readonly Lock _callbackTimesLock = new();
    private readonly List<DateTimeOffset> _callbackTimes = [];
    private int _timersCreated;
    private int _callbacksRun;

    public TestTimeProvider()
        : base(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public int TimersCreated => Volatile.Read(ref _timersCreated);

    /// <summary>Gets how many timer callbacks have run. They run inside <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider.Advance"/>, so this is exact right after it returns.</summary>
    public int CallbacksRun => Volatile.Read(ref _callbacksRun);

    /// <summary>Gets the clock's time at each timer callback, in order.</summary>
    public IReadOnlyList<DateTimeOffset> CallbackTimes
    {
        get
        {
            lock (_callbackTimesLock)
            {
                return [.. _callbackTimes];
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = base.CreateTimer(
            s =>
            {
                Interlocked.Increment(ref _callbacksRun);
                lock (_callbackTimesLock)
                {
                    _callbackTimes.Add(GetUtcNow());
                }

                callback(s);
            },
            state,
            dueTime,
            period);
        Interlocked.Increment(ref _timersCreated);
        _created.Release();
        return timer;
    }

    /// <summary>Waits until one more timer has been created than this method has already waited for.</summary>
    public Task WaitForTimerAsync() => _created.WaitOrTimeout();
}
