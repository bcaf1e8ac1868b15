using Cronos;

namespace Jobs.Dataflow;

/// <content>The factories of timer jobs: a fixed interval, an interval that can change, a cron expression.</content>
public abstract partial class Job
{
    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> every <paramref name="interval"/>, counted
    /// from the start of the previous run, and whenever the trigger in <paramref name="options"/>
    /// fires. Runs never overlap; ticks and fires during a run coalesce into one run after it.
    /// </summary>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The work. It gets a token that is cancelled when the group stops.</param>
    /// <param name="interval">
    /// The time between the starts of two runs; the first run is one interval after start.
    /// <see cref="TimeSpan.Zero"/> with a trigger: the job runs only when fired.
    /// </param>
    /// <param name="options">The trigger and shutdown on error; none of them when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="interval"/> is negative, zero without a trigger, positive but under 1 ms, or
    /// longer than a timer can wait (about 49 days).
    /// </exception>
    public static Job Timer(string name, TimerFunc fn, TimeSpan interval, TimerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(interval, Timers.MaxDelay);
        Timers.ThrowIfUnderMinInterval(interval, nameof(interval));
        options ??= TimerOptions.Default;
        if (interval == TimeSpan.Zero && options.Trigger is null)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "A zero interval needs a trigger: without one the job would never run.");
        }

        return new TimerJob(name, fn, new FixedIntervalSchedule(interval), options);
    }

    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> every <paramref name="interval"/>, counted
    /// from the start of the previous run, and whenever the trigger in <paramref name="options"/>
    /// fires; <see cref="TimerInterval.Change"/> changes the interval while the job runs, from the
    /// start of the current interval. Runs never overlap; ticks and fires during a run coalesce
    /// into one run after it.
    /// </summary>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The work. It gets a token that is cancelled when the group stops.</param>
    /// <param name="interval">The interval, which the caller keeps to change it; it may drive several timers.</param>
    /// <param name="options">The trigger, a run at start, a run timeout and shutdown on error; none of them when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/>, <paramref name="fn"/> or <paramref name="interval"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Job Timer(string name, TimerFunc fn, TimerInterval interval, TimerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(interval);
        return new TimerJob(name, fn, new ChangeableIntervalSchedule(interval), options ?? TimerOptions.Default);
    }

    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> at the times of a cron
    /// <paramref name="expression"/> in <paramref name="timeZone"/>, and whenever the trigger in
    /// <paramref name="options"/> fires. Occurrences missed while a run was busy or while the clock
    /// jumped coalesce into one run; runs never overlap.
    /// </summary>
    /// <remarks>
    /// Daylight saving: an occurrence in an hour that the clocks skip runs once, at the first valid
    /// time after it (<c>30 2 * * *</c> runs at 03:00 on the day the clocks go forward at 02:00);
    /// a time of day in an hour that repeats runs once, in the first of the two. An expression that
    /// steps through the hours (<c>*/30 * * * *</c>) keeps its pace in real time, so it runs in
    /// both copies of a repeated hour. See docs/scheduling.md.
    /// </remarks>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The work. It gets a token that is cancelled when the group stops.</param>
    /// <param name="expression">
    /// A cron expression of 5 fields (minute, hour, day of month, month, day of week), or of 6 with
    /// the seconds first; macros such as <c>@daily</c> are accepted too.
    /// </param>
    /// <param name="timeZone">The zone in which the expression's times are read; UTC when <see langword="null"/>.</param>
    /// <param name="options">The trigger, a run at start, a run timeout and shutdown on error; none of them when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/>, <paramref name="fn"/> or <paramref name="expression"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="name"/> is empty, or <paramref name="expression"/> is not a valid cron
    /// expression or never occurs (such as the 30th of February).
    /// </exception>
    public static Job Cron(string name, TimerFunc fn, string expression, TimeZoneInfo? timeZone = null, TimerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentNullException.ThrowIfNull(expression);
        var schedule = new CronSchedule(ParseCron(expression), timeZone ?? TimeZoneInfo.Utc);
        return new TimerJob(name, fn, schedule, options ?? TimerOptions.Default);
    }

    /// <summary>Parses a cron expression: 6 fields have seconds first, anything else is read as the 5-field format.</summary>
    private static CronExpression ParseCron(string expression)
    {
        CronFormat format = expression.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length == 6
            ? CronFormat.IncludeSeconds
            : CronFormat.Standard;
        CronExpression cron;
        try
        {
            cron = CronExpression.Parse(expression, format);
        }
        catch (Exception ex) when (ex is CronFormatException or MissingSeedException)
        {
            // MissingSeedException: "H" (a hashed value) needs a seed, which Job.Cron does not take.
            throw new ArgumentException($"Not a valid cron expression: '{expression}'. {ex.Message}", nameof(expression), ex);
        }

        // A fixed date, not the clock: the question is whether it ever occurs, and the clock
        // belongs to the group, which the job has not joined yet.
        if (cron.GetNextOccurrence(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc)) is null)
        {
            throw new ArgumentException($"The cron expression '{expression}' never occurs.", nameof(expression));
        }

        return cron;
    }
}
