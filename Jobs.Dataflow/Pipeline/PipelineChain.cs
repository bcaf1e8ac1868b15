namespace Jobs.Dataflow;

/// <summary>
/// One link of a pipeline's description, from its source to a stage that produces items of type
/// <typeparamref name="T"/>. Links are immutable, and each points to the one before it, so one
/// description can grow in two directions without either seeing the other's stages.
/// </summary>
/// <typeparam name="T">The type of the items produced at this point.</typeparam>
internal abstract class PipelineChain<T>
{
    /// <summary>Gets the job's name as the user gave it, and its options: the same for every link of one description.</summary>
    public abstract PipelineHead Head { get; }

    /// <summary>Checks and sanitizes the name of a stage to be added after this link.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="stage"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stage"/> is empty, or names a stage of this pipeline already.</exception>
    public string NewStageName(string stage)
    {
        string name = JobName.Sanitize(stage, nameof(stage));
        if (HasStage(name))
        {
            throw new ArgumentException($"The pipeline has a stage named {name} already; stage names must be unique within one pipeline.", nameof(stage));
        }

        return name;
    }

    /// <summary>Builds this link's blocks, and those before it, for one execution of the job.</summary>
    /// <returns>What produces the items of type <typeparamref name="T"/>: the source, or the last stage so far.</returns>
    public abstract IUpstream<T> Build(PipelineJob job);

    /// <summary>Tells whether this link or one before it is a stage named <paramref name="name"/>.</summary>
    internal abstract bool HasStage(string name);
}
