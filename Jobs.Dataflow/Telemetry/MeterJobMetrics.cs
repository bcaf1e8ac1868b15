using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Jobs.Dataflow;

/// <summary>
/// An <see cref="IJobMetrics"/> on <see cref="System.Diagnostics.Metrics"/>: one meter named
/// <see cref="MeterName"/>, with instruments named and measured the OpenTelemetry way (seconds,
/// dot-separated names). Every measurement is tagged with <c>job.name</c>, <c>job.kind</c> and the
/// group's labels. The instruments are listed in <c>docs/metrics.md</c>.
/// </summary>
public sealed class MeterJobMetrics : IJobMetrics, IDisposable
{
    /// <summary>The name of the meter.</summary>
    public const string MeterName = "Jobs.Dataflow";

    private readonly Meter _meter;
    private readonly Instruments _instruments;

    /// <summary>Initializes a new instance of the <see cref="MeterJobMetrics"/> class.</summary>
    /// <param name="meterFactory">Creates the meter, so it is scoped to the caller's container and testable.</param>
    /// <exception cref="ArgumentNullException"><paramref name="meterFactory"/> is <see langword="null"/>.</exception>
    public MeterJobMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(new MeterOptions(MeterName) { Version = LibraryVersion.Informational });
        _instruments = new Instruments(_meter);
    }

    /// <inheritdoc/>
    /// <remarks>Called on this instance, the <c>job.kind</c> tag is <c>unknown</c>; the groups of a registry call a view that knows the kind.</remarks>
    public void JobError(string name, Exception error) => _instruments.Record(name, JobKinds.Unknown, error, labels: null);

    /// <inheritdoc/>
    public void OneShotRunDuration(string name, TimeSpan duration) => OneShotRunDuration(name, duration, RunOutcome.Ok, error: null);

    /// <inheritdoc/>
    public void OneShotRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) =>
        _instruments.OneShotDuration.Record(duration.TotalSeconds, Instruments.OutcomeTags(name, JobKinds.OneShot, labels: null, outcome, error));

    /// <inheritdoc/>
    public void TimerRunDuration(string name, TimeSpan duration) => TimerRunDuration(name, duration, RunOutcome.Ok, error: null);

    /// <inheritdoc/>
    public void TimerRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) =>
        _instruments.TimerDuration.Record(duration.TotalSeconds, Instruments.OutcomeTags(name, JobKinds.Timer, labels: null, outcome, error));

    /// <inheritdoc/>
    public void TimerTriggerStats(string name, TimeSpan latency, int folds) => _instruments.RecordTrigger(name, latency, folds, labels: null);

    /// <inheritdoc/>
    public void ObserverRunDuration(string name, TimeSpan duration) => ObserverRunDuration(name, duration, RunOutcome.Ok, error: null);

    /// <inheritdoc/>
    public void ObserverRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) =>
        _instruments.ObserverDuration.Record(duration.TotalSeconds, Instruments.OutcomeTags(name, JobKinds.Observer, labels: null, outcome, error));

    /// <inheritdoc/>
    public void RunsInFlight(string name, string kind, int delta) =>
        _instruments.RunsActive.Add(delta, Instruments.Tags(name, kind, labels: null));

    /// <inheritdoc/>
    public void PipelineStageDuration(string name, string stage, TimeSpan duration) =>
        _instruments.StageDuration.Record(duration.TotalSeconds, Instruments.StageTags(name, stage, labels: null));

    /// <inheritdoc/>
    public void PipelineStageItems(string name, string stage, long count) =>
        _instruments.StageItems.Add(count, Instruments.StageTags(name, stage, labels: null));

    /// <inheritdoc/>
    public void PipelineStageFailed(string name, string stage) =>
        _instruments.StageFailures.Add(1, Instruments.StageTags(name, stage, labels: null));

    /// <inheritdoc/>
    public IDisposable? ObservePipelineStageQueue(string name, string stage, Func<long> queueLength) =>
        _instruments.ObserveQueue(name, stage, labels: null, queueLength);

    /// <summary>Disposes the meter; its instruments stop publishing.</summary>
    public void Dispose() => _meter.Dispose();

    /// <summary>Gets a view for the jobs of one kind in one group: it tags errors with the kind and every measurement with the group's labels.</summary>
    internal IJobMetrics ForJob(string kind, LabelsScope? labels) => new JobView(_instruments, kind, labels);

    /// <summary>The instruments, shared by the meter's views.</summary>
    internal sealed class Instruments
    {
        /// <summary>
        /// The bucket bounds advised for every duration, in seconds: from a millisecond to ten minutes.
        /// Without them an OpenTelemetry SDK uses bounds made for milliseconds (0, 5, 10, 25, ...), and
        /// every duration in seconds falls in the first bucket.
        /// </summary>
        public static readonly IReadOnlyList<double> SecondsBuckets =
            [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

        /// <summary>The bucket bounds advised for the number of fires folded into one triggered run.</summary>
        public static readonly IReadOnlyList<int> FoldBuckets = [1, 2, 5, 10, 25, 50, 100, 250, 1000];

        public Instruments(Meter meter)
        {
            var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets };
            OneShotDuration = meter.CreateHistogram("jobs.oneshot.run.duration", "s", "Duration of one attempt of a one-shot job.", tags: null, seconds);
            TimerDuration = meter.CreateHistogram("jobs.timer.run.duration", "s", "Duration of one run of a timer job.", tags: null, seconds);
            ObserverDuration = meter.CreateHistogram("jobs.observer.item.duration", "s", "Duration of an observer job's handler for one item.", tags: null, seconds);
            Errors = meter.CreateCounter<long>("jobs.errors", "{error}", "Errors thrown by job functions and handlers.");
            TriggerLatency = meter.CreateHistogram("jobs.timer.trigger.latency", "s", "Time from the first fire folded into a triggered timer run to the run's start.", tags: null, seconds);
            TriggerFolds = meter.CreateHistogram(
                "jobs.timer.trigger.folds",
                "{fire}",
                "Number of fires folded into one triggered timer run.",
                tags: null,
                new InstrumentAdvice<int> { HistogramBucketBoundaries = FoldBuckets });
            StageDuration = meter.CreateHistogram("jobs.pipeline.stage.duration", "s", "Duration of a pipeline stage's function for one item or batch.", tags: null, seconds);
            StageItems = meter.CreateCounter<long>("jobs.pipeline.stage.items", "{item}", "Items that left a pipeline stage.");
            StageFailures = meter.CreateCounter<long>("jobs.pipeline.stage.failures", "{item}", "Items that failed for good in a pipeline stage.");
            meter.CreateObservableGauge("jobs.pipeline.stage.queue", ReadQueues, "{item}", "Items waiting in front of a pipeline stage.");
            RunsActive = meter.CreateUpDownCounter<long>("jobs.run.active", "{run}", "One-shot attempts and timer runs in flight.");
        }

        public Histogram<double> OneShotDuration { get; }

        public Histogram<double> TimerDuration { get; }

        public Histogram<double> ObserverDuration { get; }

        public Counter<long> Errors { get; }

        public Histogram<double> TriggerLatency { get; }

        public Histogram<int> TriggerFolds { get; }

        public Histogram<double> StageDuration { get; }

        public Counter<long> StageItems { get; }

        public Counter<long> StageFailures { get; }

        public UpDownCounter<long> RunsActive { get; }

        /// <summary>Gets the stages whose queue the gauge reads; a stage leaves it when its job ends.</summary>
        private ConcurrentDictionary<QueueObservation, byte> Queues { get; } = new();

        public static TagList Tags(string name, string kind, LabelsScope? labels)
        {
            var tags = new TagList { { "job.name", name }, { "job.kind", kind } };
            if (labels is not null)
            {
                foreach (KeyValuePair<string, object?> label in labels.Labels)
                {
                    tags.Add(label);
                }
            }

            return tags;
        }

        /// <summary>
        /// The tags of a duration: the job's, <c>job.outcome</c>, and for a failure <c>error.type</c>
        /// (the exception's full type name), as the OpenTelemetry conventions record errors.
        /// </summary>
        public static TagList OutcomeTags(string name, string kind, LabelsScope? labels, RunOutcome outcome, Exception? error)
        {
            TagList tags = Tags(name, kind, labels);
            tags.Add("job.outcome", Outcomes.Tag(outcome));
            if (outcome == RunOutcome.Error && error is not null)
            {
                tags.Add("error.type", error.GetType().FullName);
            }

            return tags;
        }

        public static TagList StageTags(string name, string stage, LabelsScope? labels)
        {
            TagList tags = Tags(name, JobKinds.Pipeline, labels);
            tags.Add("job.stage", stage);
            return tags;
        }

        public void Record(string name, string kind, Exception error, LabelsScope? labels)
        {
            TagList tags = Tags(name, kind, labels);
            tags.Add("error.type", error.GetType().FullName);
            Errors.Add(1, tags);
        }

        public void RecordTrigger(string name, TimeSpan latency, int folds, LabelsScope? labels)
        {
            TagList tags = Tags(name, JobKinds.Timer, labels);
            TriggerLatency.Record(latency.TotalSeconds, tags);
            TriggerFolds.Record(folds, tags);
        }

        public IDisposable ObserveQueue(string name, string stage, LabelsScope? labels, Func<long> queueLength)
        {
            var observation = new QueueObservation(this, StageTags(name, stage, labels), queueLength);
            Queues.TryAdd(observation, 0);
            return observation;
        }

        private IEnumerable<Measurement<long>> ReadQueues()
        {
            foreach (QueueObservation observation in Queues.Keys)
            {
                yield return new Measurement<long>(observation.Read(), observation.Tags);
            }
        }

        /// <summary>One stage's queue, read by the gauge until the job ends and disposes it.</summary>
        private sealed class QueueObservation(Instruments owner, TagList tags, Func<long> queueLength) : IDisposable
        {
            public TagList Tags { get; } = tags;

            public long Read() => queueLength();

            public void Dispose() => owner.Queues.TryRemove(this, out _);
        }
    }

    /// <summary>The metrics of one kind of job in one group.</summary>
    internal sealed class JobView(Instruments instruments, string kind, LabelsScope? labels) : IJobMetrics
    {
        /// <summary>Gets a value indicating whether a listener records stage durations: a stage reads the clock only then.</summary>
        public bool StageDurationsEnabled => instruments.StageDuration.Enabled;

        /// <summary>Gets a value indicating whether a listener records observer item durations: a handler reads the clock only then.</summary>
        public bool ObserverDurationsEnabled => instruments.ObserverDuration.Enabled;

        /// <summary>Gets a value indicating whether a listener counts runs in flight; read when a run begins, so its end is counted only if its beginning was.</summary>
        public bool RunsInFlightEnabled => instruments.RunsActive.Enabled;

        public void JobError(string name, Exception error) => instruments.Record(name, kind, error, labels);

        public void OneShotRunDuration(string name, TimeSpan duration) => OneShotRunDuration(name, duration, RunOutcome.Ok, error: null);

        public void OneShotRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) =>
            instruments.OneShotDuration.Record(duration.TotalSeconds, Instruments.OutcomeTags(name, JobKinds.OneShot, labels, outcome, error));

        public void TimerRunDuration(string name, TimeSpan duration) => TimerRunDuration(name, duration, RunOutcome.Ok, error: null);

        public void TimerRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) =>
            instruments.TimerDuration.Record(duration.TotalSeconds, Instruments.OutcomeTags(name, JobKinds.Timer, labels, outcome, error));

        public void TimerTriggerStats(string name, TimeSpan latency, int folds) => instruments.RecordTrigger(name, latency, folds, labels);

        public void ObserverRunDuration(string name, TimeSpan duration) => ObserverRunDuration(name, duration, RunOutcome.Ok, error: null);

        public void ObserverRunDuration(string name, TimeSpan duration, RunOutcome outcome, Exception? error) =>
            instruments.ObserverDuration.Record(duration.TotalSeconds, Instruments.OutcomeTags(name, JobKinds.Observer, labels, outcome, error));

        public void RunsInFlight(string name, string kind, int delta) =>
            instruments.RunsActive.Add(delta, Instruments.Tags(name, kind, labels));

        public void PipelineStageDuration(string name, string stage, TimeSpan duration) =>
            instruments.StageDuration.Record(duration.TotalSeconds, Instruments.StageTags(name, stage, labels));

        public void PipelineStageItems(string name, string stage, long count) =>
            instruments.StageItems.Add(count, Instruments.StageTags(name, stage, labels));

        public void PipelineStageFailed(string name, string stage) =>
            instruments.StageFailures.Add(1, Instruments.StageTags(name, stage, labels));

        public IDisposable? ObservePipelineStageQueue(string name, string stage, Func<long> queueLength) =>
            instruments.ObserveQueue(name, stage, labels, queueLength);
    }
}
