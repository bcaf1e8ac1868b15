using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <summary>The first link: the source, which feeds the first stage as it feeds an observer.</summary>
/// <typeparam name="T">The type of the source's items.</typeparam>
internal sealed class SourceChain<T> : PipelineChain<T>
{
    private readonly JobSource<T> _source;

    public SourceChain(string name, JobSource<T> source, PipelineOptions? options)
    {
        // Checked here, where the name is given; the job sanitizes it again from the same string.
        _ = JobName.Sanitize(name, nameof(name));
        _source = source;
        Head = new PipelineHead(name, options ?? PipelineOptions.Default);
    }

    public override PipelineHead Head { get; }

    public override IUpstream<T> Build(PipelineJob job) => new SourceUpstream(job, _source);

    internal override bool HasStage(string name) => false;

    /// <summary>Hands the first stage's block to the job, which starts the source's feed into it.</summary>
    private sealed class SourceUpstream(PipelineJob job, JobSource<T> source) : IUpstream<T>
    {
        public void ConnectTo(ITargetBlock<T> target, Predicate<T>? admit) => job.SetHead(source, target, admit);
    }
}
