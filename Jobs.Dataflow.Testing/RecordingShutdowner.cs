namespace Jobs.Dataflow.Testing;

/// <summary>An <see cref="IShutdowner"/> that records every request to stop the application, and lets a test wait for one.</summary>
public sealed class RecordingShutdowner : IShutdowner
{
    private readonly Lock _gate = new();
    private readonly List<Exception?> _requests = [];
    private TaskCompletionSource<Exception?> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the errors of the requests so far, in order (<see langword="null"/> for a clean shutdown).</summary>
    public IReadOnlyList<Exception?> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <inheritdoc/>
    public void Shutdown(Exception? error = null)
    {
        lock (_gate)
        {
            _requests.Add(error);
        }

        _first.TrySetResult(error);
    }

    /// <summary>Waits for the first request to stop the application (one made already counts).</summary>
    /// <param name="timeout">How long to wait.</param>
    /// <returns>The error of the first request, or <see langword="null"/> for a clean shutdown.</returns>
    /// <exception cref="TimeoutException">No job asked within <paramref name="timeout"/>.</exception>
    public async Task<Exception?> WaitForRequestAsync(TimeSpan timeout)
    {
        try
        {
            return await _first.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No job asked the application to shut down within {timeout}.");
        }
    }

    /// <summary>Forgets the requests so far.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _requests.Clear();
            _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}
