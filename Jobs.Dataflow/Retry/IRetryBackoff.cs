namespace Jobs.Dataflow;

/// <summary>Decides how long a one-shot job waits before a retry.</summary>
public interface IRetryBackoff
{
    /// <summary>Gets the wait before a retry.</summary>
    /// <param name="attempt">1 for the first retry, 2 for the second, and so on.</param>
    /// <returns>A non-negative delay.</returns>
    TimeSpan GetDelay(int attempt);
}
