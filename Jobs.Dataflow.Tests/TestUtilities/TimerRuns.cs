using System.Threading.Channels;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>
/// A timer function for tests: records each run's start on a clock, lets a test await runs one
/// by one, and can hold a run open until the test releases it.
/// </summary>
internal sealed class TimerRuns
{
    private readonly TimeProvider _time;
    private readonly Channel<DateTimeOffset> _started = Channel.CreateUnbounded<DateTimeOffset>();
    private readonly Lock _lock = new();
    private readonly List<DateTimeOffset> _starts = [];
    private TaskCompletionSource? _gate;
    private int _active;
    private int _maxActive;

    public TimerRuns(TimeProvider time)
    {
        _time = time;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _starts.Count;
            }
        }
    }

    public int MaxActive => Volatile.Read(ref _maxActive);

    public IReadOnlyList<DateTimeOffset> Starts
    {
        get
        {
            lock (_lock)
            {
                return [.. _starts];
            }
        }
    }

    /// <summary>Makes every following run wait until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_lock)
        {
            _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Lets the held run (and every following one) finish.</summary>
    public void Release()
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            gate = _gate;
            _gate = null;
        }

        gate?.TrySetResult();
    }

    public async Task Fn(CancellationToken cancellationToken)
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            _starts.Add(_time.GetUtcNow());
            gate = _gate;
        }

        int active = Interlocked.Increment(ref _active);
        Atomic.Max(ref _maxActive, active);
        _started.Writer.TryWrite(_time.GetUtcNow());
        try
        {
            if (gate is not null)
            {
                await gate.Task;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Waits for the next run to start and returns the clock's time at its start.</summary>
    public Task<DateTimeOffset> NextAsync() => _started.Reader.ReadAsync().AsTask().OrTimeout();
}
