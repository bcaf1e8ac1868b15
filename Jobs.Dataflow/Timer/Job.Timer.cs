namespace Jobs.Dataflow;

/// <content>The factory of timer jobs.</content>
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
    /// <paramref name="interval"/> is negative, zero without a trigger, or longer than a timer can wait (about 49 days).
    /// </exception>
    public static Job Timer(string name, TimerFunc fn, TimeSpan interval, TimerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(interval, Timers.MaxDelay);
        options ??= TimerOptions.Default;
        if (interval == TimeSpan.Zero && options.Trigger is null)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "A zero interval needs a trigger: without one the job would never run.");
        }

        return new TimerJob(name, fn, interval, options);
    }
}
