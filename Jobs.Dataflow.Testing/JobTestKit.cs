using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Jobs.Dataflow.Testing;

/// <summary>
/// Everything a test of code built on Jobs.Dataflow needs, in one object: a registry and a group on
/// a fake clock (<see cref="Time"/>), a health tree, a recording shutdowner, metrics and logs to
/// assert on, and waits that make background work deterministic: <see cref="WaitUntilIdleAsync"/>
/// and <see cref="AdvanceAsync"/>.
/// </summary>
/// <remarks>
/// <para>
/// Idle means: no job runs user code (a one-shot attempt, a timer run, a handler, a stage's
/// function, a dead letter), no item waits in a block the group owns, no timer run is pending, and
/// every job waits for time, its source or its trigger. A job's user code that awaits the kit's
/// clock keeps its job busy: advance <see cref="Time"/> yourself for that, not with
/// <see cref="AdvanceAsync"/>, which waits for idle first.
/// </para>
/// <para>
/// The kit has no test framework dependency. Its waits throw <see cref="TimeoutException"/>, naming
/// what is still busy, after <see cref="JobTestKitOptions.Timeout"/> of real time.
/// </para>
/// </remarks>
public sealed class JobTestKit : IAsyncDisposable
{
    private readonly JobTestKitOptions _options;
    private readonly KitMeterFactory _meterFactory = new();
    private readonly FakeLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly IdleWaiter _waiter;

    /// <summary>Initializes a new instance of the <see cref="JobTestKit"/> class.</summary>
    /// <param name="options">The kit's options; the defaults when <see langword="null"/>.</param>
    public JobTestKit(JobTestKitOptions? options = null)
    {
        _options = options ?? new JobTestKitOptions();
        Time = new TestClock(_options.Start);
        Health = new HealthTree("root", Time);
        _loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(_logs));
        Metrics = new MeterJobMetrics(_meterFactory);
        Registry = new JobRegistry(_loggerFactory, Shutdowner, Time, Metrics) { TracksIdle = true };
        Group = Registry.NewGroup(Health, new JobGroupOptions { Labels = _options.Labels });
        _waiter = new IdleWaiter((JobGroup)Group, Time, _options.Timeout);
    }

    /// <summary>Gets the fake clock of every job of the group: intervals, backoff, debounce of triggers made on it, batch delays, durations.</summary>
    public TestClock Time { get; }

    /// <summary>Gets the health tree the group reports to; each job's scope is a child of its root.</summary>
    public HealthTree Health { get; }

    /// <summary>Gets the registry; its groups track idleness for the kit. <see cref="Group"/> is one of them.</summary>
    public JobRegistry Registry { get; }

    /// <summary>Gets the group the kit waits on.</summary>
    public IJobGroup Group { get; }

    /// <summary>Gets the shutdowner: every request a job makes to stop the application.</summary>
    public RecordingShutdowner Shutdowner { get; } = new();

    /// <summary>Gets every log entry of the group's jobs, at every level.</summary>
    public FakeLogCollector Logs => _logs.Collector;

    /// <summary>Gets the group's metrics, on a meter of the kit's own (see <see cref="CollectMetric{T}"/>).</summary>
    public MeterJobMetrics Metrics { get; }

    /// <summary>Gets the real time the kit's waits wait before they throw.</summary>
    public TimeSpan Timeout => _options.Timeout;

    /// <summary>Starts collecting the measurements of one of the library's instruments, such as <c>jobs.timer.run.duration</c>.</summary>
    /// <typeparam name="T">The type of the instrument's measurements: <see cref="double"/> for durations, <see cref="long"/> for counters.</typeparam>
    /// <param name="instrumentName">The instrument's name (listed in the library's metrics guide).</param>
    /// <returns>A collector of this kit's measurements only; dispose it when done.</returns>
    public MetricCollector<T> CollectMetric<T>(string instrumentName)
        where T : struct
    {
        ArgumentException.ThrowIfNullOrEmpty(instrumentName);
        return new MetricCollector<T>(_meterFactory, MeterJobMetrics.MeterName, instrumentName, Time);
    }

    /// <summary>Adds jobs to the group.</summary>
    /// <param name="jobs">The jobs.</param>
    public void Add(params Job[] jobs) => Group.Add(jobs);

    /// <summary>Starts the group and waits until its jobs are idle.</summary>
    /// <returns>A task that completes once every job has started and is idle.</returns>
    public async Task StartAsync()
    {
        await Group.StartAsync(CancellationToken.None).ConfigureAwait(false);
        await WaitUntilIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the group, within the kit's timeout.</summary>
    /// <returns>A task that completes when the group has stopped.</returns>
    public async Task StopAsync()
    {
        using var deadline = new CancellationTokenSource(_options.Timeout);
        await Group.StopAsync(deadline.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits until every job of the group is idle: none runs user code, no item waits in a block,
    /// no timer run is pending, and each waits for time, its source or its trigger.
    /// </summary>
    /// <returns>A task that completes when the group is idle.</returns>
    /// <exception cref="TimeoutException">Still busy after <see cref="Timeout"/>; the message names what is busy.</exception>
    public Task WaitUntilIdleAsync() => _waiter.WaitUntilIdleAsync();

    /// <summary>
    /// Advances <see cref="Time"/> by <paramref name="span"/> in steps, to each timer that falls due
    /// on the way (intervals, backoff, debounce windows, batch delays), and waits until idle after
    /// each step: one call runs everything that would have happened in that span, in order, each
    /// at its own time.
    /// </summary>
    /// <param name="span">How far to advance the clock.</param>
    /// <returns>A task that completes when the clock is at its new time and the jobs are idle.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="span"/> is negative.</exception>
    /// <exception cref="TimeoutException">The jobs did not become idle after a step; the message names what is busy.</exception>
    /// <exception cref="InvalidOperationException">Timers kept falling due without the clock moving (a timer that re-arms itself for now).</exception>
    public Task AdvanceAsync(TimeSpan span) => _waiter.AdvanceAsync(span);

    /// <summary>Waits until the scope at <paramref name="path"/> reports <paramref name="level"/>.</summary>
    /// <param name="path">The scope's path below the root, names separated by <c>/</c>, such as <c>pipeline-job-etl/stage-parse</c>.</param>
    /// <param name="level">The level to wait for.</param>
    /// <returns>The scope's status once it has that level.</returns>
    /// <exception cref="TimeoutException">Not at that level within <see cref="Timeout"/>; the message gives the tree.</exception>
    public Task<HealthStatus> WaitForHealthAsync(string path, HealthLevel level)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string[] names = path.Split('/');
        return _waiter.WaitForAsync(
            () => Health.Snapshot().Find(names) is { } status && status.Level == level ? status : null,
            () => $"Scope {path} did not report {level} within {_options.Timeout}. Health:\n{Health.Snapshot()}");
    }

    /// <summary>
    /// Waits until a job's own health scope reports <paramref name="level"/>, whatever its kind's
    /// scope name, and wherever it is: at the root, or under a view made by <c>Group.Scoped(...)</c>.
    /// </summary>
    /// <param name="job">A job of the group, or of one of its scoped views.</param>
    /// <param name="level">The level to wait for.</param>
    /// <returns>The job's status once it has that level. With jobs of one name and kind in several views, the first such scope at that level, nearest the root first.</returns>
    /// <exception cref="TimeoutException">Not at that level within <see cref="Timeout"/>; the message gives the tree.</exception>
    public Task<HealthStatus> WaitForHealthAsync(Job job, HealthLevel level)
    {
        ArgumentNullException.ThrowIfNull(job);
        string name = job.HealthScopeName;
        return _waiter.WaitForAsync(
            () => FindScope(Health.Snapshot(), name, level),
            () => $"The scope {name} of job {job.Name} did not report {level} within {_options.Timeout}. Health:\n{Health.Snapshot()}");
    }

    /// <summary>
    /// Waits until the timer job named <paramref name="jobName"/> has started and armed its timer,
    /// so that advancing the clock from now on reaches it.
    /// </summary>
    /// <param name="jobName">The name the job was given.</param>
    /// <returns>A task that completes when the timer is armed.</returns>
    /// <exception cref="TimeoutException">No timer job of that name armed its timer within <see cref="Timeout"/>.</exception>
    public Task WaitForTimerArmedAsync(string jobName) => _waiter.WaitForTimerArmedAsync(jobName);

    /// <summary>Stops the group and lets go of the kit's meters and loggers.</summary>
    /// <returns>A task that completes when the group has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            Metrics.Dispose();
            _meterFactory.Dispose();
            _loggerFactory.Dispose();
            _logs.Dispose();
        }
    }

    /// <summary>The first scope named <paramref name="name"/> at <paramref name="level"/> below <paramref name="root"/>, nearest the root first.</summary>
    private static HealthStatus? FindScope(HealthStatus root, string name, HealthLevel level)
    {
        var pending = new Queue<HealthStatus>(root.Children);
        while (pending.TryDequeue(out HealthStatus? scope))
        {
            if (scope.Name == name && scope.Level == level)
            {
                return scope;
            }

            foreach (HealthStatus child in scope.Children)
            {
                pending.Enqueue(child);
            }
        }

        return null;
    }
}
