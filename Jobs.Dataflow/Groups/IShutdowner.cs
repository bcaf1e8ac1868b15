namespace Jobs.Dataflow;

/// <summary>Stops the whole application, for jobs configured with <c>ShutdownOnError</c>.</summary>
public interface IShutdowner
{
    /// <summary>Asks the application to stop.</summary>
    /// <param name="error">The error that made the job give up, or <see langword="null"/> for a clean shutdown.</param>
    void Shutdown(Exception? error = null);
}
