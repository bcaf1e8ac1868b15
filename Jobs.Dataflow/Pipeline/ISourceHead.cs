namespace Jobs.Dataflow;

/// <summary>How a pipeline's source feeds its first stage, whatever the type of the source's items.</summary>
internal interface ISourceHead
{
    /// <summary>Gets a value indicating whether the source has nothing at hand for the first stage (see <see cref="JobSource{T}.IsAtRest"/>).</summary>
    bool IsAtRest { get; }

    /// <summary>Gets a value indicating whether the job is inside a call to its source that has not returned (see <see cref="JobSource{T}.InSourceCall"/>).</summary>
    bool InSourceCall { get; }

    /// <summary>Starts the feed.</summary>
    /// <returns>A task that completes with the source's fault (or null) when it ends or is detached.</returns>
    Task<Exception?> StartAsync();

    /// <summary>Waits for the source to let go, as an observer does.</summary>
    /// <returns>A task that completes when the source let go, or its grace expired.</returns>
    Task WaitForReleaseAsync();

    /// <summary>Logs the items taken and not handled: the feed's, and those the stages skipped.</summary>
    /// <param name="stages">The items the stages skipped after a stop.</param>
    /// <param name="blockFailed">Whether a stage's block failed (a bug of the library), rather than the group stopping.</param>
    void LogDiscarded(long stages, bool blockFailed);
}
