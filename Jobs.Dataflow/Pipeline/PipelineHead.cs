namespace Jobs.Dataflow;

/// <summary>The job's name and options, shared by every link of one pipeline description.</summary>
/// <param name="Name">The name as the user gave it (checked, not yet sanitized: the job sanitizes it).</param>
/// <param name="Options">The pipeline's options.</param>
internal sealed record PipelineHead(string Name, PipelineOptions Options);
