namespace Jobs.Dataflow.Internal;

/// <summary>
/// Wraps an error from detaching a source (disposing an <see cref="IObservable{T}"/> subscription).
/// The stream itself did not fail, so the observer job logs it as a warning rather than a source fault.
/// </summary>
internal sealed class SourceDetachException : Exception
{
    public SourceDetachException(Exception inner)
        : base("Detaching from the source failed.", inner)
    {
    }
}
