namespace Jobs.Dataflow;

/// <summary>Options of a timer job: a trigger that runs it early, and shutdown on error.</summary>
public sealed class TimerOptions
{
    /// <summary>Gets the trigger that runs the job early; each run it causes restarts the interval.</summary>
    /// <value>The default is <see langword="null"/>: the job runs only every interval.</value>
    public Trigger? Trigger { get; init; }

    /// <summary>Gets a value indicating whether the job calls <see cref="IShutdowner.Shutdown"/> with the error when a run fails.</summary>
    /// <value>The default is <see langword="false"/>: a failed run is logged and reported, and the timer keeps running.</value>
    public bool ShutdownOnError { get; init; }

    /// <summary>Gets the options used when none are given.</summary>
    internal static TimerOptions Default { get; } = new();
}
