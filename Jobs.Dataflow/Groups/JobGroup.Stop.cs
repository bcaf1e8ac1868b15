using System.Text;

namespace Jobs.Dataflow;

/// <content>Stopping the group (see docs/behaviour.md#rule-5).</content>
internal sealed partial class JobGroup
{
    /// <summary>The first stop's own work: over when it waited (or its caller gave up) and closed the scopes.</summary>
    private Task? _stop;

    /// <summary>Completes when every job active at the stop has ended: what every later call waits for too.</summary>
    private Task _allEnded = Task.CompletedTask;

    /// <summary>The jobs active at the stop, for the names of those still running; empty once they all ended.</summary>
    private JobContext[] _stopActive = [];

    /// <summary>
    /// Stops the group once. Every call waits until that one stop is over, bounded by its own
    /// <paramref name="cancellationToken"/>: when the token fires first, the call logs the jobs
    /// still running and returns, and draining jobs are told to give up.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        JobContext[] active;
        KeptScopes.Slot[] ended;
        Task cancelled;
        ScopedJobGroup[] scopes;
        List<string>? neverStarted = null;
        lock (_gate)
        {
            if (_stop is not null)
            {
                return WaitForStopAsync(Task.WhenAll(_stop, _allEnded), cancellationToken);
            }

            _stop = stop.Task;
            _state = State.Stopped;
            foreach (JobContext context in _queue ?? [])
            {
                (neverStarted ??= []).Add(context.JobName);
                context.Job.MarkCompleted();
            }

            _queue = null;
            active = _active.ToArrayLocked();
            _stopActive = active;
            ended = _ended.TakeAllLocked();

            // The registry keeps every group it made: a stopped one lets go of the user's health
            // tree and of its jobs (below, once the stop is over), which may be many thousands.
            _health = NullHealth.Instance;

            // Requested here, under the lock, so that no later StopAsync can see the group stopped
            // before its jobs' token is cancelled. No user code runs here: CancelAsync flips the
            // token at once and runs its callbacks on the thread pool.
            cancelled = CancelJobsAsync();
            _allEnded = Task.WhenAll(CompletionsOf(active, cancelled));
            scopes = [.. _scopes.Values];
        }

        return StopJobsAsync(active, ended, scopes, neverStarted, stop, cancellationToken);
    }

    /// <summary>
    /// Stops the group without waiting for its jobs, draining ones included. A Generic Host's
    /// container disposes the group with the host, also when nobody stopped the host first, and the
    /// jobs must not outlive it: a function run in a scope of the container would fail on every run
    /// once it is gone. Like a <c>BackgroundService</c>'s <c>Dispose</c>, it only cancels: the jobs'
    /// token, and the stop's deadline, which ends a drain; <see cref="StopAsync"/> waits.
    /// </summary>
    public void Dispose()
    {
        _ = StopAsync(CancellationToken.None);

        // On the thread pool, as the jobs' token: a draining handler's slow callback must not hold
        // up the container's disposal.
        _ = CancelDeadlineAsync();
    }

    /// <summary>What the stop waits for: the end of every job that was active, and the cancellation of their token.</summary>
    private static Task[] CompletionsOf(JobContext[] active, Task cancelled)
    {
        var waits = new Task[active.Length + 1];
        for (int i = 0; i < active.Length; i++)
        {
            waits[i] = active[i].Completion;
        }

        waits[^1] = cancelled;
        return waits;
    }

    private static string NamesOfActive(JobContext[] jobs)
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

    private async Task StopJobsAsync(
        JobContext[] active,
        KeptScopes.Slot[] ended,
        ScopedJobGroup[] scopes,
        List<string>? neverStarted,
        TaskCompletionSource stop,
        CancellationToken cancellationToken)
    {
        bool waited = false;
        try
        {
            // Jobs that outlive the stop on purpose (draining observers) end when the stop's token
            // fires. Registered after the jobs are cancelled: a token that has already fired runs
            // this at once, and nothing it does may keep the jobs from being cancelled.
            using CancellationTokenRegistration deadline = RegisterDeadline(cancellationToken);

            foreach (JobContext context in active)
            {
                context.CompleteBlocks();
            }

            Task allEnded = _allEnded;
            try
            {
                await allEnded.WaitAsync(cancellationToken).ConfigureAwait(false);
                waited = true;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The token runs its callbacks one at a time, this wait's before the deadline's (the
                // later registration first), so this method can return and dispose the deadline's
                // registration before it ran: cancel it here too, or a draining job never ends.
                CancelDeadline();
                LogStillRunning(active);
            }

            // Jobs that ended by themselves kept their scopes until now (docs/behaviour.md#rule-7).
            // Closed after the bounded wait: a user's scope that blocks cannot defeat the token.
            foreach (KeptScopes.Slot slot in ended)
            {
                slot.Take().Close(_logger);
            }

            foreach (ScopedJobGroup scope in scopes)
            {
                scope.CloseScope(_logger);
            }

            if (waited)
            {
                LogNeverRan(active, neverStarted);
            }
        }
        finally
        {
            // The registry keeps the group: once its jobs have ended, it lets go of them. A caller
            // that gave up leaves them running; a later call still names them, and which of them
            // never ran is known only once they have ended.
            if (waited)
            {
                ForgetStopActive();
            }
            else
            {
                _ = _allEnded.ContinueWith(
                    _ =>
                    {
                        LogNeverRan(active, neverStarted);
                        ForgetStopActive();
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }

            stop.TrySetResult();
        }
    }

    /// <summary>
    /// A later <c>StopAsync</c>: waits for the first one's work and for every job to end, bounded
    /// by its own token only (docs/behaviour.md#rule-5): the first caller giving up does not end
    /// this wait.
    /// </summary>
    private async Task WaitForStopAsync(Task stop, CancellationToken cancellationToken)
    {
        if (stop.IsCompleted)
        {
            return;
        }

        using CancellationTokenRegistration deadline = RegisterDeadline(cancellationToken);
        try
        {
            await stop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            CancelDeadline();
            JobContext[] active;
            lock (_gate)
            {
                active = _stopActive;
            }

            LogStillRunning(active);
        }
    }

    /// <summary>Logs the jobs still running when a caller's token ended its wait; none when they all ended meanwhile.</summary>
    private void LogStillRunning(JobContext[] active)
    {
        string names = NamesOfActive(active);
        if (names.Length > 0)
        {
            Log.StopTimedOut(_logger, names);
        }
    }

    private void ForgetStopActive()
    {
        lock (_gate)
        {
            _stopActive = [];
        }
    }

    private CancellationTokenRegistration RegisterDeadline(CancellationToken cancellationToken) =>
        cancellationToken.UnsafeRegister(static state => ((JobGroup)state!).CancelDeadline(), this);

    /// <summary>One warning per stop naming the jobs it kept from ever active: queued before start, or launched but not yet begun.</summary>
    private void LogNeverRan(JobContext[] active, List<string>? neverStarted)
    {
        foreach (JobContext context in active)
        {
            if (context.NeverRan)
            {
                (neverStarted ??= []).Add(context.JobName);
            }
        }

        if (neverStarted is not null)
        {
            Log.JobsNeverRan(_logger, string.Join(", ", neverStarted));
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

    /// <summary>Cancels the stop's deadline, its callbacks on the thread pool; a callback's failure is logged.</summary>
    private async Task CancelDeadlineAsync()
    {
        try
        {
            await _deadline.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.CancellationCallbackFailed(_logger, ex);
        }
    }

    /// <summary>
    /// Cancels the jobs' token. CancelAsync flips it at once and runs its callbacks (the jobs' own,
    /// and the awaits they release) on the thread pool, so a slow callback cannot hold up the stop.
    /// </summary>
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
