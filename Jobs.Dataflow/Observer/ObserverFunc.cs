namespace Jobs.Dataflow;

/// <summary>The handler of an observer job: runs once for each item of the job's source.</summary>
/// <typeparam name="T">The type of the items.</typeparam>
/// <param name="item">The item to handle.</param>
/// <param name="cancellationToken">
/// Cancelled when the group stops; with <see cref="ObserverOptions.DrainOnStop"/>, only when the
/// token given to <c>StopAsync</c> fires.
/// </param>
/// <returns>A task that completes when the item is handled; a fault means handling this item failed.</returns>
public delegate Task ObserverFunc<in T>(T item, CancellationToken cancellationToken);
