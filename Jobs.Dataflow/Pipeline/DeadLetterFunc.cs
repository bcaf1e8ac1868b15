namespace Jobs.Dataflow;

/// <summary>Receives an item that failed for good in a pipeline stage: write it to a rejects file, a queue, a table.</summary>
/// <param name="letter">The item, its stage, its error and its attempts.</param>
/// <param name="cancellationToken">Cancelled when the group stops (or, when draining, when the stop's token fires).</param>
/// <returns>A task that completes when the letter is handled. An exception is logged, and the pipeline goes on.</returns>
public delegate Task DeadLetterFunc(DeadLetter letter, CancellationToken cancellationToken);
