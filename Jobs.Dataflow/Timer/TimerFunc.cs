namespace Jobs.Dataflow;

/// <summary>The work of a timer job, run once per interval or per trigger fire.</summary>
/// <param name="cancellationToken">Cancelled when the group stops; the run should end soon after.</param>
/// <returns>A task that completes when the run is done; a fault means the run failed.</returns>
public delegate Task TimerFunc(CancellationToken cancellationToken);
