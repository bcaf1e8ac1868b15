using System.Collections.Concurrent;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>Catches the faulted tasks nobody observed, as the finalizer reports them.</summary>
internal static class UnobservedExceptions
{
    /// <summary>
    /// Runs <paramref name="run"/>, then collects garbage twice so the finalizer reports every faulted
    /// task left unobserved, and returns those whose exceptions include a <typeparamref name="TException"/>.
    /// </summary>
    /// <typeparam name="TException">The test's own exception type: tests in parallel throw others.</typeparam>
    /// <param name="run">The code that must observe every task it faults.</param>
    /// <returns>The unobserved exceptions of that type; empty when every task was observed.</returns>
    public static async Task<Exception[]> LeftByAsync<TException>(Func<Task> run)
        where TException : Exception
    {
        var unobserved = new ConcurrentQueue<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) =>
        {
            if (e.Exception.Flatten().InnerExceptions.Any(inner => inner is TException))
            {
                unobserved.Enqueue(e.Exception);
            }
        };
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            await run();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }

        return [.. unobserved];
    }
}
