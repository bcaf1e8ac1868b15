namespace Jobs.Dataflow;

/// <content>The factory of one-shot jobs.</content>
public abstract partial class Job
{
    /// <summary>
    /// Creates a job that runs <paramref name="fn"/> once when its group starts, retrying it as
    /// <paramref name="options"/> say when it throws.
    /// </summary>
    /// <param name="name">The job's name; sanitized into <see cref="Name"/>.</param>
    /// <param name="fn">The work. It gets the job's health scope and a token that is cancelled when the group stops.</param>
    /// <param name="options">Retries, backoff and shutdown on error; none of them when <see langword="null"/>.</param>
    /// <returns>The job, to be added to a group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static Job OneShot(string name, OneShotFunc fn, OneShotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fn);
        return new OneShotJob(name, fn, options ?? OneShotOptions.Default);
    }
}
