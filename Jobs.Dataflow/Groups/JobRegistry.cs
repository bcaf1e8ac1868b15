using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobs.Dataflow;

/// <summary>Creates job groups with shared defaults (logging, shutdown, clock and metrics) and keeps a list of them.</summary>
public sealed class JobRegistry : IJobRegistry
{
    /// <summary>The logger category of the groups' jobs, unless a group is given its own logger.</summary>
    public const string LoggerCategory = "Jobs.Dataflow";

    private readonly Lock _gate = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly IShutdowner? _shutdowner;
    private readonly TimeProvider _timeProvider;
    private readonly IJobMetrics _metrics;
    private IJobGroup[] _groups = [];

    /// <summary>Initializes a new instance of the <see cref="JobRegistry"/> class.</summary>
    /// <param name="loggerFactory">Creates the groups' loggers; nothing is logged when <see langword="null"/>.</param>
    /// <param name="shutdowner">Stops the application for jobs with <c>ShutdownOnError</c>; when <see langword="null"/>, such a request is logged as an error by the job that made it.</param>
    /// <param name="timeProvider">The clock of intervals, backoff and durations; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="metrics">Receives the jobs' measurements; <see cref="NopJobMetrics"/> when <see langword="null"/>.</param>
    public JobRegistry(
        ILoggerFactory? loggerFactory = null,
        IShutdowner? shutdowner = null,
        TimeProvider? timeProvider = null,
        IJobMetrics? metrics = null)
    {
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _shutdowner = shutdowner;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _metrics = metrics ?? NopJobMetrics.Instance;
    }

    /// <summary>Gets every group this registry created, in creation order.</summary>
    public IReadOnlyList<IJobGroup> Groups => Volatile.Read(ref _groups);

    /// <summary>
    /// Gets the clock of the grace a stopped job gives a source that ignores cancellation (see
    /// docs/behaviour.md#rule-27): the system clock, on purpose, so that a test clock nobody
    /// advances cannot turn the safety net into a hang. Tests of the grace itself set a fake one.
    /// </summary>
    internal TimeProvider GraceClock { get; init; } = TimeProvider.System;

    /// <summary>
    /// Gets a value indicating whether the groups tell a test kit which of their jobs are busy (see
    /// <see cref="IdleTracker"/>). Set only by the test kit; without it, jobs track nothing.
    /// </summary>
    internal bool TracksIdle { get; init; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="health"/> is <see langword="null"/>.</exception>
    public IJobGroup NewGroup(IHealth health, JobGroupOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(health);

        LabelsScope? labels = options?.Labels is { Count: > 0 } given ? new LabelsScope(given) : null;
        ILogger logger = new GroupLogger(options?.Logger ?? _loggerFactory.CreateLogger(LoggerCategory), labels);

        IJobMetrics metrics = options?.Metrics ?? _metrics;
        var group = new JobGroup(health, logger, labels, metrics, _shutdowner, _timeProvider, GraceClock)
        {
            Tracker = TracksIdle ? new IdleTracker() : null,
        };
        lock (_gate)
        {
            // Copy on write: readers of Groups get an array that never changes under them.
            _groups = [.. _groups, group];
        }

        return group;
    }
}
