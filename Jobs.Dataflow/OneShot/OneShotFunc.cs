namespace Jobs.Dataflow;

/// <summary>The work of a one-shot job.</summary>
/// <param name="health">The job's own health scope, to report progress on.</param>
/// <param name="cancellationToken">Cancelled when the group stops; the work should end soon after.</param>
/// <returns>A task that completes when the work is done; a fault means the attempt failed.</returns>
public delegate Task OneShotFunc(IHealth health, CancellationToken cancellationToken);
