namespace Jobs.Dataflow;

/// <summary>A stage with a timer of its own (a batch stage's delay), stopped when the pipeline ends.</summary>
internal interface IBatchTimer
{
    /// <summary>Disposes the timer.</summary>
    void StopTimer();
}
