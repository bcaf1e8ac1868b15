using System.Collections.Concurrent;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Groups;

/// <summary>
/// docs/behaviour.md rules 5 and 7 for a job's life in its group: a job runs once, <see cref="Job.Completion"/>
/// tells when it is over, its health outlives it until the group stops, every stop caller is
/// bounded by its own token, and a stop names the jobs it kept from running.
/// </summary>
[TestClass]
public sealed class JobLifecycleTests
{
    [TestMethod]
    public async Task Add_SameJobTwiceToOneGroup_ThrowsInvalidOperation()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("once", (_, _) => Task.CompletedTask);
        harness.Group.Add(job);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => harness.Group.Add(job));

        StringAssert.Contains(error.Message, "Job once was already added to a group");
    }

    [TestMethod]
    public async Task Add_JobOfAnotherGroup_ThrowsInvalidOperationAndAddsNothing()
    {
        await using var first = new GroupHarness();
        await using var second = new GroupHarness();
        Job shared = Job.OneShot("shared", (_, _) => Task.CompletedTask);
        Job fresh = Job.OneShot("fresh", (_, _) => Task.CompletedTask);
        first.Group.Add(shared);

        Assert.ThrowsExactly<InvalidOperationException>(() => second.Group.Add(fresh, shared));

        // The call threw as a whole: the fresh job was not taken, and can still be added; the
        // shared one stays the first group's.
        Assert.ThrowsExactly<InvalidOperationException>(() => second.Group.Add(shared));
        await second.StartAsync();
        second.Group.Add(fresh);
        await fresh.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task Add_SameJobTwiceInOneCall_ThrowsInvalidOperation()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("twice", (_, _) => Task.CompletedTask);

        Assert.ThrowsExactly<InvalidOperationException>(() => harness.Group.Add(job, job));
    }

    [TestMethod]
    public async Task Add_RejectedByAStoppedGroup_CompletesTheJobAndItCannotBeAddedAgain()
    {
        await using var stopped = new GroupHarness();
        await using var other = new GroupHarness();
        await stopped.StartAsync();
        await stopped.StopAsync();
        Job job = Job.OneShot("late", (_, _) => Task.CompletedTask);

        stopped.Group.Add(job);

        await job.Completion.OrTimeout();
        Assert.ThrowsExactly<InvalidOperationException>(() => other.Group.Add(job));
    }

    [TestMethod]
    public async Task Completion_JobEndsByItself_CompletesAfterItsFinalHealth()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("quick", (_, _) => Task.CompletedTask);
        harness.Add(job);

        await harness.StartAsync();
        await job.Completion.OrTimeout();

        HealthStatus scope = harness.Health.Tree.Snapshot().Find("job-quick")!;
        Assert.AreEqual(HealthLevel.Ok, scope.Level);
        StringAssert.StartsWith(scope.Message, "Finished (");
    }

    [TestMethod]
    public async Task Completion_FirstAskedAfterTheJobEnded_IsCompleted()
    {
        await using var harness = new GroupHarness();
        Job first = Job.OneShot("first", (_, _) => Task.CompletedTask);
        Job second = Job.OneShot("second", (_, _) => Task.CompletedTask);
        harness.Group.Add(first, second);

        await harness.StartAsync();
        await harness.StopAsync();

        // Nobody asked for either task while the jobs ran; the stop waited for both all the same.
        Assert.IsTrue(first.Completion.IsCompletedSuccessfully);
        Assert.IsTrue(second.Completion.IsCompletedSuccessfully);
    }

    [TestMethod]
    public async Task Completion_JobEndsByStop_CompletesWithItsScopeClosed()
    {
        await using var harness = new GroupHarness();
        var entered = new TaskCompletionSource();
        Job job = Job.OneShot("serving", async (_, token) =>
        {
            entered.SetResult();
            await token.UntilCancelledAsync();
        });
        harness.Add(job);
        await harness.StartAsync();
        await entered.OrTimeout();

        Task stop = harness.Group.StopAsync(CancellationToken.None);
        await job.Completion.OrTimeout();

        Assert.IsNull(harness.Health.Tree.Snapshot().Find("job-serving"));
        await stop.OrTimeout();
    }

    [TestMethod]
    public async Task Completion_JobFunctionThrows_NeverFaults()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("broken", (_, _) => throw new InvalidOperationException("boom"));
        harness.Add(job);

        await harness.StartAsync();
        await job.Completion.OrTimeout();

        Assert.IsTrue(job.Completion.IsCompletedSuccessfully);
        Assert.AreEqual(HealthLevel.Failed, harness.Health.Tree.Snapshot().Find("job-broken")!.Level);
    }

    [TestMethod]
    public async Task StopAsync_JobEndedByItself_ClosesTheScopeItKept()
    {
        await using var harness = new GroupHarness();
        Job job = Job.OneShot("done", (_, _) => Task.CompletedTask);
        harness.Add(job);
        await harness.StartAsync();
        await job.Completion.OrTimeout();
        Assert.IsNotNull(harness.Health.Tree.Snapshot().Find("job-done"));

        await harness.StopAsync();

        Assert.IsEmpty(harness.Health.Tree.Snapshot().Children);
    }

    [TestMethod]
    public async Task Add_SameNameAfterAJobGaveUp_TheNewJobReplacesTheKeptScope()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        Job failing = Job.OneShot("sync", (_, _) => throw new IOException("down"));
        harness.Group.Add(failing);
        await failing.Completion.OrTimeout();
        Assert.AreEqual(HealthLevel.Failed, harness.Health.Tree.Snapshot().Overall);

        Job retry = Job.OneShot("sync", (_, _) => Task.CompletedTask);
        harness.Group.Add(retry);
        await retry.Completion.OrTimeout();

        HealthStatus[] scopes = [.. harness.Health.Tree.Snapshot().Children];
        Assert.HasCount(1, scopes, "The latest job of a name replaces the kept scope of the earlier one.");
        Assert.AreEqual(HealthLevel.Ok, scopes[0].Level);
        Assert.AreEqual(HealthLevel.Ok, harness.Health.Tree.Snapshot().Overall);
    }

    [TestMethod]
    public async Task Add_SeveralJobsOfEndedNamesInOneCall_EachReplacesItsKeptScope()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        Job firstA = Job.OneShot("a", (_, _) => throw new IOException("down"));
        Job firstB = Job.OneShot("b", (_, _) => throw new IOException("down"));
        harness.Group.Add(firstA, firstB);
        await Task.WhenAll(firstA.Completion, firstB.Completion).OrTimeout();

        Job secondA = Job.OneShot("a", (_, _) => Task.CompletedTask);
        Job secondB = Job.OneShot("b", (_, _) => Task.CompletedTask);
        harness.Group.Add(secondA, secondB);
        await Task.WhenAll(secondA.Completion, secondB.Completion).OrTimeout();

        HealthStatus[] scopes = [.. harness.Health.Tree.Snapshot().Children];
        CollectionAssert.AreEqual(new[] { "job-a", "job-b" }, scopes.Select(s => s.Name).ToArray());
        Assert.IsTrue(scopes.All(s => s.Level == HealthLevel.Ok), "Both failed scopes were replaced, not only the last.");
    }

    [TestMethod]
    public async Task Completion_TwoJobsOfOneNameEndByThemselves_TheTreeKeepsOnlyTheLastOnesScope()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        var releaseFirst = new TaskCompletionSource();
        var releaseSecond = new TaskCompletionSource();
        Job first = Job.OneShot("sync", (_, _) => releaseFirst.Task);
        Job second = Job.OneShot("sync", (_, _) => releaseSecond.Task);
        harness.Group.Add(first, second);

        releaseFirst.SetResult();
        await first.Completion.OrTimeout();
        releaseSecond.SetException(new IOException("down"));
        await second.Completion.OrTimeout();

        HealthStatus[] scopes = [.. harness.Health.Tree.Snapshot().Children];
        Assert.HasCount(1, scopes, "The scope kept for the first job is closed when the second of its name ends.");
        Assert.AreEqual(HealthLevel.Failed, scopes[0].Level);
    }

    [TestMethod]
    public async Task Add_SeveralJobsToAStoppedGroup_RejectsAndCompletesEachWithAWarning()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        await harness.StopAsync();
        Job first = Job.OneShot("late-1", (_, _) => Task.CompletedTask);
        Job second = Job.OneShot("late-2", (_, _) => Task.CompletedTask);

        harness.Group.Add(first, second);

        await Task.WhenAll(first.Completion, second.Completion).OrTimeout();
        string?[] rejected = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.JobRejected)).Select(e => (string?)e["JobName"])];
        CollectionAssert.AreEqual(new[] { "late-1", "late-2" }, rejected);
    }

    [TestMethod]
    public async Task Add_SameNameOfAnotherKindAfterAJobEnded_KeepsBothScopes()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        Job oneShot = Job.OneShot("same", (_, _) => Task.CompletedTask);
        harness.Group.Add(oneShot);
        await oneShot.Completion.OrTimeout();

        Job observer = Job.Observer("same", (int _, CancellationToken _) => Task.CompletedTask, Array.Empty<int>().ToAsyncEnumerable());
        harness.Group.Add(observer);
        await observer.Completion.OrTimeout();

        string[] scopes = [.. harness.Health.Tree.Snapshot().Children.Select(c => c.Name)];
        CollectionAssert.AreEqual(new[] { "job-same", "observer-job-same" }, scopes, "Only a job of the same kind and name replaces a kept scope.");
    }

    [TestMethod]
    public async Task StopAsync_SecondCallWithABoundedToken_ReturnsWhenItsTokenFiresAndLogsTheStragglers()
    {
        await using var harness = new GroupHarness();
        var never = new TaskCompletionSource();
        var entered = new TaskCompletionSource();
        harness.Add(Job.OneShot("stubborn", (_, _) =>
        {
            entered.SetResult();
            return never.Task;
        }));
        await harness.StartAsync();
        await entered.OrTimeout();

        // Someone stops the group without a bound (a job, a callback), then the host stops it with one.
        Task unbounded = harness.Group.StopAsync(CancellationToken.None);
        using var hostTimeout = new CancellationTokenSource();
        Task bounded = harness.Group.StopAsync(hostTimeout.Token);
        Assert.IsFalse(bounded.IsCompleted);
        await hostTimeout.CancelAsync();

        await bounded.OrTimeout();
        LogEntry straggler = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.StopTimedOut));
        Assert.AreEqual(LogLevel.Error, straggler.Level);
        Assert.AreEqual("stubborn", straggler["JobNames"]);
        Assert.IsFalse(unbounded.IsCompleted, "The first call has no bound: it still waits for the straggler.");

        never.SetResult();
        await unbounded.OrTimeout();
    }

    [TestMethod]
    public async Task StopAsync_FirstCallersTokenFires_LaterCallsStillWaitForTheJobs()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();
        var entered = new TaskCompletionSource();
        var job = Job.OneShot("slow-to-stop", async (_, token) =>
        {
            entered.SetResult();
            await token.WhenCancelled();
            await release.Task;
        });
        harness.Add(job);
        await harness.StartAsync();
        await entered.OrTimeout();

        // The host stops the group with a bound; someone else stops it without one.
        using var hostTimeout = new CancellationTokenSource();
        Task bounded = harness.Group.StopAsync(hostTimeout.Token);
        Task unbounded = harness.Group.StopAsync(CancellationToken.None);
        await hostTimeout.CancelAsync();
        await bounded.OrTimeout();
        Task later = harness.Group.StopAsync(CancellationToken.None);

        Assert.IsFalse(later.IsCompleted, "A stop after the first caller gave up still waits for the job: only its own token bounds it.");
        Assert.IsFalse(unbounded.IsCompleted, "The first caller's token does not end another caller's wait.");
        Assert.AreEqual("slow-to-stop", harness.Logs.Entries.Single(e => e.EventId.Name == nameof(Log.StopTimedOut))["JobNames"]);
        release.SetResult();
        await Task.WhenAll(unbounded, later).OrTimeout();
        Assert.IsTrue(job.Completion.IsCompleted);
        Assert.IsEmpty(harness.Health.Tree.Snapshot().Children, "The job's scope is closed before the waiting calls return.");
    }

    [TestMethod]
    public async Task StopAsync_TokenFiresWhenEveryJobHasEnded_LogsNoStragglers()
    {
        await using var harness = new GroupHarness();
        using var callbackMayReturn = new SemaphoreSlim(0);
        var job = Job.OneShot("done", (_, token) =>
        {
            // A cancellation callback the job leaves behind: the stop waits for it, not for the job.
            token.Register(() => callbackMayReturn.Wait());
            return Task.CompletedTask;
        });
        harness.Add(job);
        await harness.StartAsync();
        await job.Completion.OrTimeout();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await harness.Group.StopAsync(cancelled.Token).OrTimeout();
        await harness.Group.StopAsync(cancelled.Token).OrTimeout();
        callbackMayReturn.Release();

        Assert.IsFalse(harness.Logs.Entries.Any(e => e.EventId.Name == nameof(Log.StopTimedOut)), "No job was running: there is nothing to name.");
    }

    [TestMethod]
    public async Task StopAsync_SecondCallsTokenFires_EndsADrainingJob()
    {
        await using var harness = new GroupHarness();
        var handling = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var channel = System.Threading.Channels.Channel.CreateUnbounded<int>();
        channel.Writer.TryWrite(1);
        ObserverFunc<int> fn = async (_, token) =>
        {
            handling.TrySetResult(token);
            await token.UntilCancelledAsync();
        };
        harness.Add(Job.Observer("draining", fn, channel.Reader, new ObserverOptions { DrainOnStop = true }));
        await harness.StartAsync();
        CancellationToken handlerToken = await handling.OrTimeout();

        Task unbounded = harness.Group.StopAsync(CancellationToken.None);
        using var hostTimeout = new CancellationTokenSource();
        Task bounded = harness.Group.StopAsync(hostTimeout.Token);
        await hostTimeout.CancelAsync();
        await bounded.OrTimeout();

        Assert.IsTrue(handlerToken.IsCancellationRequested, "A caller that gives up ends the drain too.");
        await unbounded.OrTimeout();
    }

    [TestMethod]
    public async Task StopAsync_BeforeStart_WarnsOnceNamingTheQueuedJobsAndCompletesThem()
    {
        await using var harness = new GroupHarness();
        Job a = Job.OneShot("a", (_, _) => Task.CompletedTask);
        Job b = Job.OneShot("b", (_, _) => Task.CompletedTask);
        harness.Add(a, b);

        await harness.StopAsync();

        LogEntry[] warnings = [.. harness.Logs.Entries.Where(e => e.EventId.Name == nameof(Log.JobsNeverRan))];
        Assert.HasCount(1, warnings);
        Assert.AreEqual(LogLevel.Warning, warnings[0].Level);
        Assert.AreEqual("a, b", warnings[0]["JobNames"]);
        await Task.WhenAll(a.Completion, b.Completion).OrTimeout();
    }

    [TestMethod]
    [DataRow(false, DisplayName = "The stop waits for the job")]
    [DataRow(true, DisplayName = "The stop's token has fired: the warning comes once the job has ended")]
    public async Task StopAsync_StopBeginsBeforeALaunchedJobRuns_WarnsNamingIt(bool tokenFired)
    {
        // The group's health scope starts the stop while the job is being launched: after the
        // group tracked it, before its run executes it. A stop whose token has fired cannot wait to
        // see which jobs never run.
        using var stopToken = new CancellationTokenSource();
        if (tokenFired)
        {
            await stopToken.CancelAsync();
        }

        var stopStarted = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        IJobGroup? group = null;
        var health = new StopOnNewScope(new HealthTree(), "job-overtaken", () => stopStarted.SetResult(group!.StopAsync(stopToken.Token)));
        var logs = new LogCapture();
        group = new JobRegistry(logs.Factory).NewGroup(health);
        bool ran = false;
        Job job = Job.OneShot("overtaken", (_, _) =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        await group.StartAsync(CancellationToken.None);

        group.Add(job);
        await (await stopStarted.OrTimeout()).OrTimeout();
        await job.Completion.OrTimeout();

        Assert.IsFalse(ran);
        if (tokenFired)
        {
            Assert.AreEqual("overtaken", logs.Entries.Single(e => e.EventId.Name == nameof(Log.StopTimedOut))["JobNames"], "When its token fired, the job had not ended.");
        }

        LogEntry warning = await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobsNeverRan));
        Assert.AreEqual("overtaken", warning["JobNames"]);
    }

    [TestMethod]
    public async Task StopAsync_StopComesWhileTheJobLogsItsStart_WarnsNamingItAndNeverCallsIt()
    {
        // The group's logger starts the stop while it writes the job's start: after the group
        // checked the token, before the job's own check.
        var stopStarted = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        IJobGroup? group = null;
        var logs = new LogCapture();
        var logger = new StopOnLog(logs.CreateLogger("jobs"), nameof(Log.JobStarted), () => stopStarted.SetResult(group!.StopAsync(CancellationToken.None)));
        group = new JobRegistry().NewGroup(new HealthTree(), new JobGroupOptions { Logger = logger });
        bool ran = false;
        Job job = Job.OneShot("overtaken", (_, _) =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        group.Add(job);

        await group.StartAsync(CancellationToken.None);
        await (await stopStarted.OrTimeout()).OrTimeout();

        Assert.IsFalse(ran, "No run starts after the token is cancelled.");
        Assert.AreEqual("overtaken", logs.Entries.Single(e => e.EventId.Name == nameof(Log.JobsNeverRan))["JobNames"]);
    }

    [TestMethod]
    public async Task StopAsync_StopComesWhileTheJobReportsRunning_NeverCallsTheFunction()
    {
        // The job's own scope starts the stop while the job reports Running, just before its run.
        var stopStarted = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        IJobGroup? group = null;
        var scope = new Mock<IHealth>();
        scope.Setup(s => s.Ok("Running")).Callback(() => stopStarted.TrySetResult(group!.StopAsync(CancellationToken.None)));
        var health = new Mock<IHealth>();
        health.Setup(h => h.NewScope("job-overtaken")).Returns(scope.Object);
        var logs = new LogCapture();
        group = new JobRegistry(logs.Factory).NewGroup(health.Object);
        bool ran = false;
        group.Add(Job.OneShot("overtaken", (_, _) =>
        {
            ran = true;
            return Task.CompletedTask;
        }));

        await group.StartAsync(CancellationToken.None);
        await (await stopStarted.OrTimeout()).OrTimeout();

        Assert.IsFalse(ran, "No run starts after the token is cancelled, even once the job reported Running.");
        Assert.AreEqual("overtaken", logs.Entries.Single(e => e.EventId.Name == nameof(Log.JobsNeverRan))["JobNames"]);
        scope.Verify(s => s.Degraded(It.IsAny<string>(), It.IsAny<Exception?>()), Times.Never(), "An attempt the stop came before is no failure.");
        scope.Verify(s => s.Close(), Times.Once());
    }

    [TestMethod]
    public async Task StopAsync_StopComesWhileAFiredRunIsCounted_NeverCallsTheTimersFunction()
    {
        // The metrics sink starts the stop while it counts the fire, just before the timer's run.
        var stopStarted = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        IJobGroup? group = null;
        var metrics = new Mock<IJobMetrics>();
        metrics.Setup(m => m.TimerTriggerStats("fired", It.IsAny<TimeSpan>(), 1)).Callback(() => stopStarted.TrySetResult(group!.StopAsync(CancellationToken.None)));
        group = new JobRegistry(metrics: metrics.Object).NewGroup(new HealthTree());
        var trigger = new Trigger();
        bool ran = false;
        group.Add(Job.Timer(
            "fired",
            _ =>
            {
                ran = true;
                return Task.CompletedTask;
            },
            TimeSpan.Zero,
            new TimerOptions { Trigger = trigger }));

        await group.StartAsync(CancellationToken.None);
        trigger.Fire();
        await (await stopStarted.OrTimeout()).OrTimeout();

        Assert.IsFalse(ran, "No run starts after the token is cancelled.");
        metrics.Verify(m => m.JobError(It.IsAny<string>(), It.IsAny<Exception>()), Times.Never(), "A run the stop came before is no failure.");
    }

    [TestMethod]
    public async Task StopAsync_WhileAnEndedJobClosesTheScopeItReplaces_WaitsForTheClose()
    {
        // Two jobs of one name: the first ends and keeps its scope; the second, ending, replaces
        // it, and the user's scope takes its time to close.
        using var mayClose = new SemaphoreSlim(0);
        var closing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tree = new HealthTree();
        var health = new SlowFirstClose(tree, closing, mayClose);
        var logs = new LogCapture();
        IJobGroup group = new JobRegistry(logs.Factory).NewGroup(health);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseSecond = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Job first = Job.OneShot("x", (_, _) => releaseFirst.Task);
        Job second = Job.OneShot("x", (_, _) => releaseSecond.Task);
        group.Add(first, second);
        await group.StartAsync(CancellationToken.None);
        releaseFirst.SetResult();
        await first.Completion.OrTimeout();
        releaseSecond.SetResult();
        await closing.OrTimeout();

        // A stop whose token has fired already names what it would wait for.
        using var fired = new CancellationTokenSource();
        await fired.CancelAsync();
        await group.StopAsync(fired.Token).OrTimeout();
        LogEntry stragglers = logs.Entries.Single(e => e.EventId.Name == nameof(Log.StopTimedOut));
        mayClose.Release();
        await group.StopAsync(CancellationToken.None).OrTimeout();

        Assert.AreEqual("x", stragglers["JobNames"], "The second job is not over until the scope it replaced is closed.");
        Assert.IsTrue(second.Completion.IsCompleted);
        Assert.IsEmpty(tree.Snapshot().Children, "Every scope is closed once the stop returns.");
    }

    [TestMethod]
    [DataRow(false, false, DisplayName = "the user's scopes, the stop after the jobs ended")]
    [DataRow(true, false, DisplayName = "the library's tree, the stop after the jobs ended")]
    [DataRow(false, true, DisplayName = "the user's scopes, the stop while they end")]
    [DataRow(true, true, DisplayName = "the library's tree, the stop while they end")]
    public async Task StopAsync_JobsOfOneNameEndingAtOnce_EveryScopeIsClosedOnceBeforeItReturns(bool libraryTree, bool stopWhileEnding)
    {
        // Jobs that end on several threads at once hand their kept scope to each other without a
        // lock, and a stop may take what is kept at the same time: whatever the interleaving, the
        // tree keeps one scope of the name until the stop, and each scope is closed exactly once,
        // before the stop returns.
        const int Rounds = 40;
        const int Jobs = 24;
        for (int round = 0; round < Rounds; round++)
        {
            var tree = new HealthTree();
            var scopes = new CountedScopes(tree);
            IJobGroup group = new JobRegistry().NewGroup(libraryTree ? tree : scopes);
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var allWaiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            int waiting = 0;
            var jobs = new Job[Jobs];
            for (int i = 0; i < jobs.Length; i++)
            {
                jobs[i] = Job.OneShot("x", async (_, _) =>
                {
                    if (Interlocked.Increment(ref waiting) == Jobs)
                    {
                        allWaiting.TrySetResult();
                    }

                    await release.Task;
                });
            }

            group.Add(jobs);
            await group.StartAsync(CancellationToken.None);
            await allWaiting.OrTimeout();

            release.SetResult();
            if (!stopWhileEnding)
            {
                await Task.WhenAll(jobs.Select(j => j.Completion)).OrTimeout();
                Assert.HasCount(1, tree.Snapshot().Children, $"Round {round}: the tree keeps the scope of the job that ended last.");
                if (!libraryTree)
                {
                    int[] closes = [.. scopes.Created.Select(s => s.Closes).Order()];
                    CollectionAssert.AreEqual(new[] { 0 }.Concat(Enumerable.Repeat(1, Jobs - 1)).ToArray(), closes, $"Round {round}: each replaced scope is closed once.");
                }
            }

            await group.StopAsync(CancellationToken.None).OrTimeout();

            Assert.IsEmpty(tree.Snapshot().Children, $"Round {round}: every scope is closed once the stop returns.");
            if (!libraryTree)
            {
                Assert.HasCount(Jobs, scopes.Created, $"Round {round}");
                CollectionAssert.AreEqual(Enumerable.Repeat(1, Jobs).ToArray(), scopes.Created.Select(s => s.Closes).ToArray(), $"Round {round}: each scope is closed once.");
            }
        }
    }

    [TestMethod]
    public async Task StartAsync_LongLivedJobsOfDistinctNames_HoldNoSlotForAScopeTheyNeverKeep()
    {
        // A scope is kept only once its job ends by itself; timers of distinct names that run until
        // the stop never need a place for one, and jobs of one name launched together share one.
        var tree = new HealthTree();
        IJobGroup group = new JobRegistry().NewGroup(tree);
        for (int i = 0; i < 50; i++)
        {
            group.Add(Job.OneShot("service-" + i, (_, token) => token.WhenCancelled()));
        }

        var ended = new Job[20];
        for (int i = 0; i < ended.Length; i++)
        {
            ended[i] = Job.OneShot("batch", (_, _) => Task.CompletedTask);
        }

        Job lone = Job.OneShot("lone", (_, _) => Task.CompletedTask);
        group.Add(ended);
        group.Add(lone);
        await group.StartAsync(CancellationToken.None);
        await Task.WhenAll([.. ended.Select(j => j.Completion), lone.Completion]).OrTimeout();

        Assert.AreEqual(2, ((JobGroup)group).KeptSlots, "One slot for the batch, one made when the lone job ended.");
        CollectionAssert.IsSubsetOf(new[] { "job-batch", "job-lone" }, tree.Snapshot().Children.Select(c => c.Name).ToArray());
        await group.StopAsync(CancellationToken.None).OrTimeout();
    }

    [TestMethod]
    public async Task Scoped_SameNameTwice_ReturnsOneScope()
    {
        await using var harness = new GroupHarness();
        var release = new TaskCompletionSource();

        harness.Group.Scoped("ingest").Add(Job.OneShot("a", (_, _) => release.Task));
        harness.Group.Scoped("ingest").Add(Job.OneShot("b", (_, _) => release.Task));
        await harness.StartAsync();

        HealthStatus[] scopes = [.. harness.Health.Tree.Snapshot().Children];
        Assert.HasCount(1, scopes);
        CollectionAssert.AreEqual(new[] { "job-a", "job-b" }, scopes[0].Children.Select(c => c.Name).ToArray());
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == "ingest" && r.Closed), "The second call makes no scope of its own to throw away.");
        release.SetResult();
    }

    [TestMethod]
    public async Task Scoped_AfterStop_MakesNoScopeAndRejectsJobs()
    {
        await using var harness = new GroupHarness();
        await harness.StartAsync();
        await harness.StopAsync();
        Job job = Job.OneShot("late", (_, _) => Task.CompletedTask);

        harness.Group.Scoped("late-scope").Add(job);

        Assert.IsEmpty(harness.Health.Tree.Snapshot().Children);
        Assert.IsFalse(harness.Health.Reports.Any(r => r.Path == "late-scope"), "A stopped group makes no scope, not even one it closes at once.");
        LogEntry rejected = await harness.Logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobRejected));
        Assert.AreEqual("late", rejected["JobName"]);
        await job.Completion.OrTimeout();
    }

    [TestMethod]
    public async Task Scoped_GroupStopsWhileTheScopeIsCreated_ClosesThatScopeAndRejectsJobs()
    {
        // The stop comes between the creation of the view's scope and its publication: the scope
        // the stop could not see is closed by Scoped itself, and the view rejects jobs.
        var tree = new HealthTree();
        Task? stop = null;
        IJobGroup? group = null;
        var health = new StopOnNewScope(tree, "late-scope", () => stop = group!.StopAsync(CancellationToken.None));
        var logs = new LogCapture();
        group = new JobRegistry(logs.Factory).NewGroup(health);
        await group.StartAsync(CancellationToken.None);
        Job job = Job.OneShot("late", (_, _) => Task.CompletedTask);

        IScopedJobGroup scoped = group.Scoped("late-scope");
        await stop!.OrTimeout();
        scoped.Add(job);

        Assert.IsEmpty(tree.Snapshot().Children, "The scope made while the group stopped is closed.");
        LogEntry rejected = await logs.WaitForAsync(e => e.EventId.Name == nameof(Log.JobRejected));
        Assert.AreEqual("late", rejected["JobName"]);
        await job.Completion.OrTimeout();
    }

    /// <summary>A health tree that runs an action when a given scope is created under it.</summary>
    /// <summary>A logger that runs an action once, when it is first asked to write the event of that name.</summary>
    private sealed class StopOnLog(ILogger inner, string eventName, Action action) : ILogger
    {
        private int _done;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            if (eventId.Name == eventName && Interlocked.Exchange(ref _done, 1) == 0)
            {
                action();
            }
        }
    }

    /// <summary>A tree whose first scope, once asked to close, says so and waits for leave to.</summary>
    private sealed class SlowFirstClose(HealthTree tree, TaskCompletionSource closing, SemaphoreSlim mayClose) : ForwardingHealth(tree)
    {
        private int _scopes;

        public override IHealth NewScope(string name)
        {
            IHealth created = base.NewScope(name);
            return Interlocked.Increment(ref _scopes) == 1 ? new SlowClose(created, closing, mayClose) : created;
        }

        private sealed class SlowClose(IHealth inner, TaskCompletionSource closing, SemaphoreSlim mayClose) : ForwardingHealth(inner)
        {
            public override void Close()
            {
                closing.TrySetResult();
                Assert.IsTrue(mayClose.Wait(Waits.Timeout), "The test lets the scope close.");
                base.Close();
            }
        }
    }

    private sealed class StopOnNewScope(HealthTree tree, string scope, Action action) : ForwardingHealth(tree)
    {
        public override IHealth NewScope(string name)
        {
            IHealth created = base.NewScope(name);
            if (name == scope)
            {
                action();
            }

            return created;
        }
    }

    /// <summary>A user's health over a tree that counts how often each of its scopes is closed.</summary>
    private sealed class CountedScopes(HealthTree tree) : ForwardingHealth(tree)
    {
        private readonly ConcurrentQueue<CountedScope> _created = new();

        public IReadOnlyList<CountedScope> Created => [.. _created];

        public override IHealth NewScope(string name)
        {
            var created = new CountedScope(base.NewScope(name));
            _created.Enqueue(created);
            return created;
        }
    }

    private sealed class CountedScope(IHealth inner) : ForwardingHealth(inner)
    {
        private int _closes;

        public int Closes => Volatile.Read(ref _closes);

        public override void Close()
        {
            Interlocked.Increment(ref _closes);
            base.Close();
        }
    }
}
