namespace Jobs.Dataflow.Samples.Etl;

/// <summary>One line of the input: its number (from 1), and its text, or null when it was too long to keep.</summary>
internal readonly record struct InputLine(long Number, string? Text);
