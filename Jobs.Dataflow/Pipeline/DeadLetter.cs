namespace Jobs.Dataflow;

/// <summary>An item that failed for good in a pipeline stage, handed to <see cref="PipelineOptions.DeadLetter"/>.</summary>
/// <param name="Stage">The sanitized name of the stage it failed in.</param>
/// <param name="Item">The item, as the stage received it.</param>
/// <param name="Error">The exception of its last attempt.</param>
/// <param name="Attempts">How many times the stage tried it.</param>
public sealed record DeadLetter(string Stage, object? Item, Exception Error, int Attempts);
