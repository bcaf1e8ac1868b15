using System.Runtime.CompilerServices;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Groups;

[TestClass]
public sealed class JobGroupTests
{
    [TestMethod]
    public async Task Add_BeforeStart_QueuesJobsUntilStart()
    {
        await using var harness = new GroupHarness();
        var ran = new TaskCompletionSource();
        harness.Add(Job.OneShot("queued", (_, _) =>
        {
            ran.SetResult();
            return Task.CompletedTask;
        }));

        Assert.IsFalse(ran.Task.IsCompleted);
        Assert.AreEqual(0, harness.Health.Tree.Snapshot().Children.Count);

        await harness.StartAsync();
        await ran.OrTimeout();
    }

    [TestMethod]
    public async Task StartAsync_QueuedJobs_LaunchesThemInTheOrderAdded()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        foreach (string name in new[] { "c", "a", "b" })
        {
            harness.Add(Job.OneShot(name, (_, _) => release.Task));
        }

        await harness.StartAsync();

        string[] scopes = [.. harness.Health.Tree.Snapshot().Children.Select(c => c.Name)];
        CollectionAssert.AreEqual(new[] { "job-c", "job-a", "job-b" }, scopes);
        release.SetResult();
    }

    [TestMethod]
    public async Task Add_AfterStart_StartsTheJobAtOnce()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        var ran = new TaskCompletionSource();

        harness.Add(Job.OneShot("late", (_, _) =>
        {
            ran.SetResult();
            return Task.CompletedTask;
        }));

        await ran.OrTimeout();
    }

    [TestMethod]
    public async Task Add_SeveralJobsInOneCallAfterStart_StartsEveryOneInTheOrderGiven()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        var release = new TaskCompletionSource();
        using var entered = new CountdownEvent(3);
        Job[] jobs = [.. new[] { "c", "a", "b" }.Select(name => Job.OneShot(name, async (_, _) =>
        {
            entered.Signal();
            await release.Task;
        }))];

        harness.Group.Add(jobs);

        Assert.IsTrue(entered.Wait(TimeSpan.FromSeconds(30)), "Every job of the call runs, not only the last.");
        string[] scopes = [.. harness.Health.Tree.Snapshot().Children.Select(c => c.Name)];
        CollectionAssert.AreEqual(new[] { "job-c", "job-a", "job-b" }, scopes);
        release.SetResult();
        await Task.WhenAll(jobs.Select(j => j.Completion)).OrTimeout();
    }

    [TestMethod]
    public async Task Add_AfterStop_DoesNotStartAndWarnsWithName()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        await harness.StopAsync();
        bool ran = false;

        harness.Add(Job.OneShot("too-late", (_, _) =>
        {
            ran = true;
            return Task.CompletedTask;
        }));

        LogEntry warning = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobRejected));
        Assert.AreEqual(LogLevel.Warning, warning.Level);
        Assert.AreEqual("too-late", warning["JobName"]);
        Assert.IsFalse(ran);
        Assert.AreEqual(0, harness.Health.Tree.Snapshot().Children.Count);
    }

    [TestMethod]
    public async Task Add_FromAJobsCancellationCallback_DoesNotDeadlockTheStop()
    {
        await using var harness = new GroupHarness();
        var registered = new TaskCompletionSource();
        harness.Add(Job.OneShot("adds-on-stop", async (_, token) =>
        {
            // Not disposed with the job: the callback must still run after the job's await ends.
            token.Register(() => harness.Add(Job.OneShot("added-on-stop", (_, _) => Task.CompletedTask)));
            registered.SetResult();
            await token.UntilCancelledAsync();
        }));
        await harness.StartAsync();
        await registered.OrTimeout();

        await harness.StopAsync();

        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobRejected) && (string?)e["JobName"] == "added-on-stop");
    }

    [TestMethod]
    public async Task StartAsync_JobStillRunning_ReturnsWithoutWaiting()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        harness.Add(Job.OneShot("slow", (_, _) => release.Task));

        Task start = harness.Group.StartAsync(CancellationToken.None);

        Assert.IsTrue(start.IsCompletedSuccessfully);
        release.SetResult();
    }

    [TestMethod]
    public async Task StartAsync_JobBlocksSynchronously_ReturnsWithoutWaiting()
    {
        await using var harness = new GroupHarness();
        using var release = new ManualResetEventSlim();
        harness.Add(Job.OneShot("blocking", (_, _) =>
        {
            release.Wait(Waits.Timeout);
            return Task.CompletedTask;
        }));

        Task start = harness.Group.StartAsync(CancellationToken.None);

        Assert.IsTrue(start.IsCompletedSuccessfully);
        release.Set();
    }

    [TestMethod]
    public async Task StartAsync_ManyJobsAndTheFirstBlocksItsThread_EveryJobAfterItRunsMeanwhile()
    {
        await using var harness = new GroupHarness();
        const int Count = 100;
        using var othersRan = new CountdownEvent(Count - 1);
        bool sawThemRun = false;
        Job blocking = Job.OneShot("blocking", (_, _) =>
        {
            // Holds its thread until every job launched after it has run.
            sawThemRun = othersRan.Wait(Waits.Timeout);
            return Task.CompletedTask;
        });
        harness.Add(blocking);
        for (int i = 1; i < Count; i++)
        {
            harness.Add(Job.OneShot("quick", (_, _) =>
            {
                othersRan.Signal();
                return Task.CompletedTask;
            }));
        }

        await harness.StartAsync();

        await blocking.Completion.OrTimeout();
        Assert.IsTrue(sawThemRun, "A job that blocks its thread holds back none of the jobs launched after it.");
    }

    [TestMethod]
    public async Task Add_SeveralJobsBlockTheirThreads_EveryJobAfterThemRunsMeanwhile()
    {
        // More blocked threads than cores: the jobs after them run once the pool adds a thread.
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        int blocking = Environment.ProcessorCount + 1;
        const int Quick = 60;
        using var quickRan = new CountdownEvent(Quick);
        int sawThemRun = 0;
        var jobs = new List<Job>();
        for (int i = 0; i < blocking; i++)
        {
            jobs.Add(Job.OneShot("blocking", (_, _) =>
            {
                if (quickRan.Wait(Waits.Timeout))
                {
                    Interlocked.Increment(ref sawThemRun);
                }

                return Task.CompletedTask;
            }));
        }

        for (int i = 0; i < Quick; i++)
        {
            jobs.Add(Job.OneShot("quick", (_, _) =>
            {
                quickRan.Signal();
                return Task.CompletedTask;
            }));
        }

        harness.Group.Add([.. jobs]);

        await Task.WhenAll(jobs.Select(j => j.Completion)).OrTimeout();
        Assert.AreEqual(blocking, sawThemRun, "Every blocked job saw the jobs after it run.");
    }

    [TestMethod]
    [DataRow(false, DisplayName = "flow captured")]
    [DataRow(true, DisplayName = "flow suppressed")]
    public async Task StartAsync_JobsLeaveAnAsyncLocalAndASynchronizationContextBehind_NoOtherJobSeesThem(bool suppressFlow)
    {
        // Jobs launched together may share a thread: none may start in what another one left.
        await using var harness = new GroupHarness();
        var local = new AsyncLocal<string>();
        const int Count = 100;
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(string? Local, SynchronizationContext? Context)>();
        var jobs = new Job[Count];
        for (int i = 0; i < Count; i++)
        {
            jobs[i] = Job.OneShot("leaves-its-context", (_, _) =>
            {
                seen.Enqueue((local.Value, SynchronizationContext.Current));
                local.Value = "left by a job";
                SynchronizationContext.SetSynchronizationContext(new SynchronizationContext());
                return Task.CompletedTask;
            });
        }

        harness.Group.Add(jobs);
        local.Value = "caller";
        Task start;
        if (suppressFlow)
        {
            using (ExecutionContext.SuppressFlow())
            {
                start = harness.Group.StartAsync(CancellationToken.None);
            }
        }
        else
        {
            start = harness.Group.StartAsync(CancellationToken.None);
        }

        await start;
        await Task.WhenAll(jobs.Select(j => j.Completion)).OrTimeout();

        Assert.HasCount(Count, seen);
        string? expected = suppressFlow ? null : "caller";
        foreach ((string? value, SynchronizationContext? context) in seen)
        {
            Assert.AreEqual(expected, value, "Each job starts in the flow of the StartAsync call.");
            Assert.IsNull(context, "Each job starts without a synchronization context.");
        }
    }

    [TestMethod]
    public async Task StartAsync_CallersExecutionContext_FlowsIntoTheJobsAsWithTaskRun()
    {
        await using var harness = new GroupHarness();
        var local = new AsyncLocal<string>();
        var seenAtStart = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var seenAtAdd = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var seenSuppressed = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.OneShot("queued", (_, _) => Complete(seenAtStart)));

        local.Value = "start";
        await harness.StartAsync();
        local.Value = "add";
        harness.Add(Job.OneShot("added", (_, _) => Complete(seenAtAdd)));
        using (ExecutionContext.SuppressFlow())
        {
            harness.Add(Job.OneShot("suppressed", (_, _) => Complete(seenSuppressed)));
        }

        Assert.AreEqual("start", await seenAtStart.OrTimeout(), "Queued jobs run in the context of the StartAsync call.");
        Assert.AreEqual("add", await seenAtAdd.OrTimeout(), "A job added after the start runs in the context of its Add call.");
        Assert.IsNull(await seenSuppressed.OrTimeout(), "With the flow suppressed, the job runs in the default context.");

        Task Complete(TaskCompletionSource<string?> seen)
        {
            seen.SetResult(local.Value);
            return Task.CompletedTask;
        }
    }

    [TestMethod]
    public async Task StartAsync_HealthScopeChangesTheFlowAsItIsCreated_EveryJobRunsInTheCallersContext()
    {
        // A user's scope that sets an async local while the group creates it (a logging scope,
        // an ambient transaction) changes the flow of the thread that launches the jobs.
        var local = new AsyncLocal<string>();
        IJobGroup group = new JobRegistry().NewGroup(new FlowChangingHealth(local));
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        using var ran = new CountdownEvent(3);
        for (int i = 0; i < 3; i++)
        {
            group.Add(Job.OneShot("job-" + i, (_, _) =>
            {
                seen.Enqueue(local.Value);
                ran.Signal();
                return Task.CompletedTask;
            }));
        }

        local.Value = "caller";
        await group.StartAsync(CancellationToken.None);
        Assert.IsTrue(ran.Wait(Waits.Timeout));
        await group.StopAsync(CancellationToken.None);

        CollectionAssert.AreEqual(new[] { "caller", "caller", "caller" }, seen.ToArray(), "Each job runs in the flow of the StartAsync call, not in what a scope left");
    }

    [TestMethod]
    public async Task StartAsync_CancelledToken_ThrowsAndTheGroupCanStillStart()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("waits", (_, _) => Task.CompletedTask);
        harness.Add(job);

        await Assert.ThrowsExactlyAsync<OperationCanceledException>(
            () => harness.Group.StartAsync(new CancellationToken(canceled: true)));

        Assert.IsFalse(job.Completion.IsCompleted, "A cancelled start launches nothing.");
        Assert.IsEmpty(harness.Health.Tree.Snapshot().Children);
        await harness.StartAsync();
        await job.Completion.OrTimeout();
    }

    [TestMethod]
    [DataRow(true, DisplayName = "the start's token cancelled")]
    [DataRow(false, DisplayName = "the start's token not cancelled yet")]
    public async Task StartAsync_OnceTheApplicationIsStopping_StopsTheGroupWithoutRunningItsJobs(bool startCancelled)
    {
        // The host cancels the start's token from a callback of the application's, which may run
        // after the start: the application's token decides.
        var logs = new LogCapture();
        var group = (JobGroup)new JobRegistry(logs.Factory).NewGroup(new HealthTree());
        group.ApplicationStopping = new CancellationToken(canceled: true);
        int runs = 0;
        Job job = Job.OneShot("refresh", (_, _) => Task.FromResult(Interlocked.Increment(ref runs)));
        group.Add(job);

        await group.StartAsync(new CancellationToken(startCancelled)).OrTimeout();

        await job.Completion.OrTimeout();
        Assert.AreEqual(0, Volatile.Read(ref runs));
        Assert.AreEqual("refresh", logs.Entries.Single(e => e.EventId.Name == nameof(Log.JobsNeverRan))["JobNames"]);
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => group.StartAsync(CancellationToken.None));
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task StartAsync_AfterStopWithACancelledToken_ThrowsInvalidOperation()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        await harness.StopAsync();

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => harness.Group.StartAsync(new CancellationToken(canceled: true)));
    }

    [TestMethod]
    public async Task StartAsync_Twice_ThrowsInvalidOperation()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(harness.StartAsync);

        StringAssert.Contains(error.Message, "already been started");
    }

    [TestMethod]
    public async Task StartAsync_AfterStop_ThrowsInvalidOperation()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        await harness.StopAsync();

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(harness.StartAsync);

        StringAssert.Contains(error.Message, "stopped group cannot start again");
    }

    [TestMethod]
    public async Task StopAsync_TwoRunningJobs_CancelsBothAndWaitsForBoth()
    {
        await using var harness = new GroupHarness();
        var cancelledA = new TaskCompletionSource();
        var cancelledB = new TaskCompletionSource();
        var finishA = new TaskCompletionSource();
        var entered = new CountdownEvent(2);
        harness.Add(
            Job.OneShot("a", (_, token) => WaitThen(token, entered, cancelledA, finishA.Task)),
            Job.OneShot("b", (_, token) => WaitThen(token, entered, cancelledB, Task.CompletedTask)));
        await harness.StartAsync();
        Assert.IsTrue(entered.Wait(Waits.Timeout));

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await Task.WhenAll(cancelledA.Task, cancelledB.Task).OrTimeout();

        Assert.IsFalse(stop.IsCompleted, "The stop must wait for job a, which has not ended yet.");
        finishA.SetResult();
        await stop.OrTimeout();
    }

    [TestMethod]
    public async Task StopAsync_JobIgnoresCancellation_LogsStragglerAndReturns()
    {
        await using var harness = new GroupHarness();
        var never = new TaskCompletionSource();
        var entered = new TaskCompletionSource();
        harness.Add(
            Job.OneShot("stubborn", (_, _) =>
            {
                entered.SetResult();
                return never.Task;
            }),
            Job.OneShot("polite", (_, token) => token.UntilCancelledAsync()));
        await harness.StartAsync();
        await entered.OrTimeout();
        using var timeout = new CancellationTokenSource();

        Task stop = harness.Group.StopAsync(timeout.Token);
        await harness.Health.WaitForCloseAsync("job-polite");
        Assert.IsFalse(stop.IsCompleted);
        await timeout.CancelAsync();
        await stop.OrTimeout();

        LogEntry[] errors = [.. harness.Logs.Entries.Where(e => e.Level == LogLevel.Error)];
        Assert.HasCount(1, errors);
        Assert.AreEqual(nameof(Log.StopTimedOut), errors[0].EventId.Name);
        Assert.AreEqual("stubborn", errors[0]["JobNames"]);
        never.SetResult();
    }

    [TestMethod]
    public async Task StopAsync_TwoJobsIgnoreCancellation_NamesBothStragglersAndNotTheOneThatEnded()
    {
        await using var harness = new GroupHarness();
        var never = new TaskCompletionSource();
        using var entered = new CountdownEvent(2);
        Task Stubborn(IHealth health, CancellationToken token)
        {
            entered.Signal();
            return never.Task;
        }

        harness.Add(
            Job.OneShot("first", Stubborn),
            Job.OneShot("polite", (_, token) => token.UntilCancelledAsync()),
            Job.OneShot("second", Stubborn));
        await harness.StartAsync();
        Assert.IsTrue(entered.Wait(TimeSpan.FromSeconds(30)));
        using var timeout = new CancellationTokenSource();

        Task stop = harness.Group.StopAsync(timeout.Token);
        await harness.Health.WaitForCloseAsync("job-polite");
        await timeout.CancelAsync();
        await stop.OrTimeout();

        LogEntry stragglers = harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.StopTimedOut));
        Assert.AreEqual("first, second", stragglers["JobNames"]);
        never.SetResult();
    }

    [TestMethod]
    public async Task StopAsync_Twice_SecondIsANoOp()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        await harness.StopAsync();

        Task second = harness.Group.StopAsync(CancellationToken.None);

        Assert.IsTrue(second.IsCompletedSuccessfully);
    }

    [TestMethod]
    public async Task StopAsync_SecondCallWhileTheFirstWaits_CompletesOnlyWithTheFirst()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        var cancelled = new TaskCompletionSource();
        var entered = new TaskCompletionSource();
        harness.Add(Job.OneShot("slow-to-stop", async (_, token) =>
        {
            entered.SetResult();
            await token.WhenCancelled();
            cancelled.SetResult();
            await release.Task;
        }));
        await harness.StartAsync();
        await entered.OrTimeout();

        Task first = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();
        Task second = harness.Group.StopAsync(CancellationToken.None);

        Assert.IsFalse(second.IsCompleted, "The second stop must not report the group stopped while a job still runs.");
        release.SetResult();
        await Task.WhenAll(first, second).OrTimeout();
    }

    [TestMethod]
    public async Task StopAsync_JobQueuedBeforeStartIsRunning_WaitsForItAndWarnsOfNoJobThatNeverRan()
    {
        // The queue is the start's: once launched, a queued job is a running job like any other.
        await using var harness = new GroupHarness();
        var entered = new TaskCompletionSource();
        var cancelled = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        Job queued = Job.OneShot("queued", async (_, token) =>
        {
            entered.SetResult();
            await token.WhenCancelled();
            cancelled.SetResult();
            await finish.Task;
        });
        harness.Add(queued);
        await harness.StartAsync();
        await entered.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await cancelled.OrTimeout();

        Assert.IsFalse(queued.Completion.IsCompleted, "The job still runs.");
        Assert.IsFalse(stop.IsCompleted);
        finish.SetResult();
        await stop.OrTimeout();
        await queued.Completion.OrTimeout();
        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.JobsNeverRan)), "The job ran.");
    }

    [TestMethod]
    public async Task StopAsync_NeverStarted_QueuedJobsNeverRunAndLaterAddWarns()
    {
        await using var harness = new GroupHarness();
        bool ran = false;
        harness.Add(Job.OneShot("queued", (_, _) =>
        {
            ran = true;
            return Task.CompletedTask;
        }));

        await harness.StopAsync();
        harness.Add(Job.OneShot("after", (_, _) => Task.CompletedTask));

        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobRejected) && (string?)e["JobName"] == "after");
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(harness.StartAsync);
        Assert.IsFalse(ran);
    }

    [TestMethod]
    public async Task StopAsync_JobEndsByStop_HealthScopeClosedBeforeStopReturns()
    {
        await using var harness = new GroupHarness();
        var entered = new TaskCompletionSource();
        harness.Add(Job.OneShot("long", async (_, token) =>
        {
            entered.SetResult();
            await token.UntilCancelledAsync();
        }));
        await harness.StartAsync();
        await entered.OrTimeout();
        Assert.IsNotNull(harness.Health.Tree.Snapshot().Find("job-long"));

        await harness.StopAsync();

        Assert.IsNull(harness.Health.Tree.Snapshot().Find("job-long"));
    }

    [TestMethod]
    public async Task StartAsync_JobsUnderATreeOnTheGroupsClock_ReadTheClockOnceForAllTheirScopes()
    {
        // The scopes of one launch share one reading of the clock; each attempt then reads it once
        // for its start. Three jobs: one read for their scopes and three for their attempts.
        var clock = new CountingTimestamps(new TestTimeProvider());
        var tree = new HealthTree("root", clock);
        IJobGroup group = new JobRegistry(timeProvider: clock).NewGroup(tree);
        var release = new TaskCompletionSource();
        var allStarted = new TaskCompletionSource();
        int started = 0;
        Job[] jobs = [.. Enumerable.Range(0, 3).Select(i => Job.OneShot($"held-{i}", async (_, token) =>
        {
            if (Interlocked.Increment(ref started) == 3)
            {
                allStarted.TrySetResult();
            }

            await release.Task.WaitAsync(token);
        }))];
        group.Add(jobs);
        int before = clock.Reads;

        await group.StartAsync(CancellationToken.None);
        await allStarted.Task.OrTimeout();

        Assert.AreEqual(before + 1 + 3, clock.Reads);
        CollectionAssert.AreEqual(new[] { "job-held-0", "job-held-1", "job-held-2" }, tree.Snapshot().Children.Select(c => c.Name).ToArray());
        release.TrySetResult();
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Scoped_JobAddedThroughScope_ReportsUnderTheScope()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        harness.Group.Scoped("ingest").Add(Job.OneShot("reader", (_, _) => release.Task));

        await harness.StartAsync();

        HealthReport running = await harness.Health.WaitForAsync("ingest/job-reader", HealthLevel.Ok, "Running");
        Assert.IsNotNull(running);
        Assert.IsNotNull(harness.Health.Tree.Snapshot().Find("ingest", "job-reader"));
        release.SetResult();
        await harness.Health.WaitForAsync("ingest/job-reader", HealthLevel.Ok, "Finished");
        Assert.IsNotNull(harness.Health.Tree.Snapshot().Find("ingest", "job-reader"), "A job that ended by itself keeps its scope until the group stops.");

        await harness.StopAsync();
        Assert.IsNull(harness.Health.Tree.Snapshot().Find("ingest"), "The group's stop closes the scopes it made for Scoped().");
    }

    [TestMethod]
    public async Task Add_WithLabels_EveryJobEntryCarriesLabelsScopeAndJobName()
    {
        var labels = new Dictionary<string, object?> { ["pipeline"] = "orders", ["shard"] = 3 };
        await using var harness = new GroupHarness(new JobGroupOptions { Labels = labels });
        harness.Add(Job.OneShot("labelled", (_, _) => throw new InvalidOperationException("boom")));

        await harness.StartAsync();
        await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.OneShotFailed));
        await harness.WaitForEndAsync("labelled");

        LogEntry[] entries = [.. harness.Logs.Entries.Where(e => e.Fields.ContainsKey("JobName"))];
        Assert.IsGreaterThanOrEqualTo(3, entries.Length, "started, failed and ended");
        foreach (LogEntry entry in entries)
        {
            Assert.AreEqual("labelled", entry["JobName"]);
            Assert.IsTrue(entry.HasScopeField("pipeline", "orders"), entry.Message);
            Assert.IsTrue(entry.HasScopeField("shard", 3), entry.Message);
        }
    }

    [TestMethod]
    public async Task NewGroup_OptionsLoggerAndMetrics_WinOverTheRegistrys()
    {
        var groupLogs = new LogCapture();
        var groupMetrics = new Mock<IJobMetrics>();
        var registryLogs = new LogCapture();
        var registryMetrics = new Mock<IJobMetrics>();
        var registry = new JobRegistry(registryLogs.Factory, metrics: registryMetrics.Object);
        IJobGroup group = registry.NewGroup(
            new HealthTree(),
            new JobGroupOptions { Logger = groupLogs.CreateLogger("custom"), Metrics = groupMetrics.Object });
        group.Add(Job.OneShot("job", (_, _) => Task.CompletedTask));

        await group.StartAsync(CancellationToken.None);
        await groupLogs.WaitForAsync(e => e.EventId.Name == nameof(Log.OneShotFinished));
        await group.StopAsync(CancellationToken.None).OrTimeout();

        groupMetrics.Verify(m => m.OneShotRunDuration("job", It.IsAny<TimeSpan>(), RunOutcome.Ok, null), Times.Once);
        registryMetrics.VerifyNoOtherCalls();
        Assert.IsEmpty(registryLogs.Entries);
    }

    [TestMethod]
    public void Add_NullJob_ThrowsNamingJobs()
    {
        IJobGroup group = new JobRegistry().NewGroup(new HealthTree());

        var error = Assert.ThrowsExactly<ArgumentNullException>(() => group.Add(null!));

        Assert.AreEqual("jobs", error.ParamName);
    }

    [TestMethod]
    public async Task Add_NullAmongJobs_ThrowsNamingJobsAndTakesNone()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("valid", (_, _) => Task.CompletedTask);

        var error = Assert.ThrowsExactly<ArgumentNullException>(() => harness.Group.Add(job, null!));

        Assert.AreEqual("jobs", error.ParamName);
        harness.Group.Add(job);
        await harness.StartAsync();
        await job.Completion.OrTimeout();
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    public void Scoped_NullOrEmptyName_ThrowsNamingName(string? name)
    {
        IJobGroup group = new JobRegistry().NewGroup(new HealthTree());

        var error = Assert.Throws<ArgumentException>(() => group.Scoped(name!));

        Assert.AreEqual("name", error.ParamName);
    }

    [TestMethod]
    public void NewGroup_NullHealth_ThrowsNamingHealth()
    {
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => new JobRegistry().NewGroup(null!));

        Assert.AreEqual("health", error.ParamName);
    }

    [TestMethod]
    public void Groups_AfterNewGroup_ListsEveryGroupInCreationOrder()
    {
        var registry = new JobRegistry();

        IJobGroup first = registry.NewGroup(new HealthTree());
        IJobGroup second = registry.NewGroup(new HealthTree());

        CollectionAssert.AreEqual(new[] { first, second }, registry.Groups.ToArray());
    }

    [TestMethod]
    public async Task StopAsync_TheRegistryKeepsTheGroup_TheGroupLetsGoOfItsHealthTreeAndJobs()
    {
        var registry = new JobRegistry();
        (IJobGroup group, Task running, WeakReference tree, WeakReference[] jobs) = StartGroup(registry);
        await running.OrTimeout();

        await group.StopAsync(CancellationToken.None).OrTimeout();

        // A service that makes a group per batch of work must not keep every batch's jobs and scopes.
        Assert.IsTrue(await tree.IsCollectedAsync(), "The stopped group lets go of the health tree it reported to.");
        foreach (WeakReference job in jobs)
        {
            Assert.IsTrue(await job.IsCollectedAsync(), "The stopped group lets go of its jobs, whether they ended before the stop or by it.");
        }

        Assert.AreSame(group, registry.Groups.Single(), "The registry still lists the stopped group.");
    }

    [TestMethod]
    public async Task JobEndedByItself_UnderAUsersFailingHealth_TheGroupKeepsItsScopeButNotTheJob()
    {
        // A kept scope of a user's IHealth whose reports failed is kept marked, not through the
        // job: a running group that adds jobs under ever new names must not keep each job's data.
        IJobGroup group = new JobRegistry().NewGroup(new ReportsFailHealth());
        (Task ended, WeakReference job) = AddEndingJob(group);
        Assert.IsTrue(group.StartAsync(CancellationToken.None).IsCompletedSuccessfully);
        await ended.OrTimeout();

        Assert.IsTrue(await job.IsCollectedAsync(), "The running group let go of the job that ended by itself.");
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Task Ended, WeakReference Job) AddEndingJob(IJobGroup group)
    {
        byte[] data = new byte[1024];
        Job job = Job.OneShot("import-42", (_, _) => Task.FromResult(data.Length));
        group.Add(job);
        return (job.Completion, new WeakReference(job));
    }

    /// <summary>
    /// Starts a group of the registry with a job that ends by itself, one that the stop ends, and
    /// one under a scoped group. Made here, so that nothing but the group can keep the tree and the
    /// jobs alive; the task completes once the first and the last have ended and the second runs.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (IJobGroup Group, Task Running, WeakReference Tree, WeakReference[] Jobs) StartGroup(JobRegistry registry)
    {
        var tree = new HealthTree();
        IJobGroup group = registry.NewGroup(tree);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Job[] jobs =
        [
            Job.OneShot("ends", (_, _) => Task.CompletedTask),
            Job.OneShot("stopped", (_, token) =>
            {
                started.SetResult();
                return token.UntilCancelledAsync();
            }),
            Job.OneShot("scoped", (_, _) => Task.CompletedTask),
        ];
        group.Add(jobs[0], jobs[1]);
        group.Scoped("batch").Add(jobs[2]);
        Assert.IsTrue(group.StartAsync(CancellationToken.None).IsCompletedSuccessfully);
        return (group, Task.WhenAll(started.Task, jobs[0].Completion, jobs[2].Completion), new WeakReference(tree), [.. jobs.Select(job => new WeakReference(job))]);
    }

    private static async Task WaitThen(CancellationToken token, CountdownEvent entered, TaskCompletionSource cancelled, Task finish)
    {
        entered.Signal();
        try
        {
            await token.UntilCancelledAsync();
        }
        catch (OperationCanceledException)
        {
            cancelled.SetResult();
            await finish;
            throw;
        }
    }

    /// <summary>Reports nowhere; creating a scope sets an async local, on the caller's flow.</summary>
    private sealed class FlowChangingHealth(AsyncLocal<string> local) : ForwardingHealth(NullHealth.Instance)
    {
        public override IHealth NewScope(string name)
        {
            local.Value = "changed by " + name;
            return this;
        }
    }

    /// <summary>A user's health whose reports all fail: its scopes are created, and closing them works.</summary>
    private sealed class ReportsFailHealth : IHealth
    {
        public void Ok(string status) => throw new InvalidOperationException("health down");

        public void Stopped(string reason) => throw new InvalidOperationException("health down");

        public void Degraded(string reason, Exception? error) => throw new InvalidOperationException("health down");

        public IHealth NewScope(string name) => new ReportsFailHealth();

        public void Close()
        {
        }
    }
}
