using System.Text;
using Jobs.Dataflow.Internal;

namespace Jobs.Dataflow;

/// <content>Stopping the group: rule 5.</content>
internal sealed partial class JobGroup
{
    /// <summary>
    /// Stops the group once. A later call is a no-op that returns the first stop's task: it
    /// completes when that stop does, so no caller believes the jobs ended before they did.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        JobContext[] running;
        lock (_gate)
        {
            if (_stop is not null)
            {
                return _stop;
            }

            _stop = stop.Task;
            _state = State.Stopped;
            _queue.Clear();
            running = _running.ToArray();
        }

        return StopJobsAsync(running, stop, cancellationToken);
    }

    private static string NamesOfRunning(JobContext[] jobs)
    {
        var names = new StringBuilder();
        foreach (JobContext context in jobs)
        {
            if (!context.Completion.IsCompleted)
            {
                names.Append(names.Length == 0 ? string.Empty : ", ").Append(context.JobName);
            }
        }

        return names.ToString();
    }

    private async Task StopJobsAsync(JobContext[] running, TaskCompletionSource stop, CancellationToken cancellationToken)
    {
        try
        {
            // CancelAsync runs the token's callbacks (the jobs' own, and the awaits they release)
            // off this thread, so a slow callback cannot hold up the rest of the stop.
            Task cancelled = CancelJobsAsync();

            // Jobs that outlive the stop on purpose (draining observers) end when the stop's token
            // fires. Registered after the jobs are cancelled: a token that has already fired runs
            // this at once, and nothing it does may keep the jobs from being cancelled.
            using CancellationTokenRegistration deadline = cancellationToken.UnsafeRegister(
                static state => ((JobGroup)state!).CancelDeadline(), this);

            foreach (JobContext context in running)
            {
                context.CompleteBlocks();
            }

            var waits = new Task[running.Length + 1];
            for (int i = 0; i < running.Length; i++)
            {
                waits[i] = running[i].Completion;
            }

            waits[^1] = cancelled;
            try
            {
                await Task.WhenAll(waits).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The token runs its callbacks one at a time, this wait's before the deadline's (the
                // later registration first), so this method can return and dispose the deadline's
                // registration before it ran: cancel it here too, or a draining job never ends.
                CancelDeadline();
                Log.StopTimedOut(_logger, NamesOfRunning(running));
            }
        }
        finally
        {
            stop.TrySetResult();
        }
    }

    private void CancelDeadline()
    {
        try
        {
            _deadline.Cancel();
        }
        catch (AggregateException ex)
        {
            Log.CancellationCallbackFailed(_logger, ex);
        }
    }

    private async Task CancelJobsAsync()
    {
        try
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.CancellationCallbackFailed(_logger, ex);
        }
    }
}
