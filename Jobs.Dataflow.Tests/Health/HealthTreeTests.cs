using System.Runtime.CompilerServices;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.Time.Testing;

namespace Jobs.Dataflow.Tests.Health;

[TestClass]
public sealed class HealthTreeTests
{
    [TestMethod]
    public void NewScope_NothingReported_IsUnknown()
    {
        var tree = new HealthTree();

        tree.NewScope("a");

        HealthStatus a = tree.Snapshot().Find("a")!;
        Assert.AreEqual(HealthLevel.Unknown, a.Level);
        Assert.AreEqual(string.Empty, a.Message);
    }

    [TestMethod]
    public void Reports_EachLevel_AreKeptWithMessageErrorAndTime()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        var tree = new HealthTree("svc", time);
        IHealth scope = tree.NewScope("db");
        var error = new TimeoutException("slow");

        scope.Ok("connected");
        time.Advance(TimeSpan.FromMinutes(1));
        scope.Degraded("query failed", error);

        HealthStatus db = tree.Snapshot().Find("db")!;
        Assert.AreEqual(HealthLevel.Degraded, db.Level);
        Assert.AreEqual("query failed", db.Message);
        Assert.AreSame(error, db.Error);
        Assert.AreEqual(time.GetUtcNow(), db.LastChanged);

        scope.Stopped("shut down");
        HealthStatus stopped = tree.Snapshot().Find("db")!;
        Assert.AreEqual(HealthLevel.Stopped, stopped.Level);
        Assert.IsNull(stopped.Error);
    }

    [TestMethod]
    public void Find_NestedPath_DescendsByNames()
    {
        var tree = new HealthTree();
        tree.NewScope("a").NewScope("b").Ok("deep");

        Assert.AreEqual("deep", tree.Snapshot().Find("a", "b")!.Message);
        Assert.IsNull(tree.Snapshot().Find("a", "missing"));
        Assert.AreEqual("root", tree.Snapshot().Find()!.Name);
    }

    [TestMethod]
    public void Close_Scope_RemovesItAndItsChildrenAndIgnoresLaterReports()
    {
        var tree = new HealthTree();
        IHealth a = tree.NewScope("a");
        IHealth child = a.NewScope("child");

        a.Close();
        child.Ok("late");
        a.Ok("late");

        Assert.AreEqual(0, tree.Snapshot().Children.Count);
        child.NewScope("grandchild");
        Assert.IsNull(tree.Snapshot().Find("a"));
    }

    [TestMethod]
    public void Snapshot_LaterReports_DoNotChangeATakenSnapshot()
    {
        var tree = new HealthTree();
        IHealth a = tree.NewScope("a");
        a.Ok("first");

        HealthStatus before = tree.Snapshot();
        a.Ok("second");
        tree.NewScope("b");

        Assert.AreEqual("first", before.Find("a")!.Message);
        Assert.AreEqual(1, before.Children.Count);
    }

    [TestMethod]
    public async Task Reports_FromManyThreads_AreAllKeptConsistently()
    {
        var tree = new HealthTree();
        Task[] writers = [.. Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            for (int n = 0; n < 200; n++)
            {
                IHealth scope = tree.NewScope($"w{i}-{n}");
                scope.Ok("ok");
                if (n % 2 == 0)
                {
                    scope.Close();
                }

                _ = tree.Snapshot();
            }
        }))];

        await Task.WhenAll(writers);

        HealthStatus snapshot = tree.Snapshot();
        Assert.AreEqual(8 * 100, snapshot.Children.Count);
        Assert.IsTrue(snapshot.Children.All(c => c.Level == HealthLevel.Ok));
    }

    [TestMethod]
    public async Task Report_WhileItsCallerHoldsALockOnTheScope_DoesNotWaitForIt()
    {
        // Each scope guards its own report; the object a caller holds must not be that lock, or
        // a caller's lock on its own scope object would hold up every report to the scope.
        var tree = new HealthTree();
        IHealth scope = tree.NewScope("db");
        Task report;

        lock (scope)
        {
            report = Task.Run(() => scope.Ok("connected"));
            Assert.IsTrue(report.Wait(TimeSpan.FromSeconds(30)), "The report waited for the caller's lock.");
        }

        await report;
        Assert.AreEqual("connected", tree.Snapshot().Find("db")!.Message);
    }

    [TestMethod]
    public async Task Snapshot_WhileAScopeReports_ShowsEachReportWhole()
    {
        var tree = new HealthTree();
        IHealth scope = tree.NewScope("db");
        scope.Ok("ok-0");
        Task writer = Task.Run(() =>
        {
            for (int n = 1; n <= 100_000; n++)
            {
                if (n % 2 == 0)
                {
                    scope.Ok($"ok-{n}");
                }
                else
                {
                    scope.Degraded($"bad-{n}", new IOException($"bad-{n}"));
                }
            }
        });

        while (!writer.IsCompleted)
        {
            HealthStatus db = tree.Snapshot().Find("db")!;
            if (db.Level == HealthLevel.Ok)
            {
                Assert.IsNull(db.Error, db.Message);
                Assert.StartsWith("ok-", db.Message);
            }
            else
            {
                Assert.AreEqual(HealthLevel.Degraded, db.Level);
                Assert.AreEqual(db.Message, db.Error!.Message, "The level, message and error of one report.");
            }
        }

        await writer;
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("")]
    public void Constructor_NullOrEmptyName_ThrowsNamingName(string? name)
    {
        var error = Assert.Throws<ArgumentException>(() => new HealthTree(name!));

        Assert.AreEqual("name", error.ParamName);
    }

    [TestMethod]
    public void NewScope_EmptyName_ThrowsNamingName()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new HealthTree().NewScope(string.Empty));

        Assert.AreEqual("name", error.ParamName);
    }

    [TestMethod]
    public void Close_ManyScopes_LeavesTheOthersInOrder()
    {
        var tree = new HealthTree();
        IHealth[] scopes = [.. Enumerable.Range(0, 1000).Select(i => tree.NewScope("s" + i))];

        // Close every scope but each tenth, in an order that is neither first-to-last nor the reverse.
        foreach (int i in Enumerable.Range(0, 1000).Where(i => i % 10 != 0).OrderBy(i => (i * 7919) % 1000))
        {
            scopes[i].Close();
        }

        string[] left = [.. tree.Snapshot().Children.Select(c => c.Name)];
        CollectionAssert.AreEqual(Enumerable.Range(0, 100).Select(i => "s" + (i * 10)).ToArray(), left);
        scopes[10].Ok("still reports");
        Assert.AreEqual("still reports", tree.Snapshot().Find("s10")!.Message);
        scopes[11].Ok("closed: ignored");
        Assert.IsNull(tree.Snapshot().Find("s11"));
    }

    [TestMethod]
    public void Failed_Scope_KeepsLevelMessageAndError()
    {
        var tree = new HealthTree();
        var error = new IOException("disk gone");

        tree.NewScope("job").Failed("Gave up", error);

        HealthStatus job = tree.Snapshot().Find("job")!;
        Assert.AreEqual(HealthLevel.Failed, job.Level);
        Assert.AreEqual("Gave up", job.Message);
        Assert.AreSame(error, job.Error);
    }

    [TestMethod]
    public void Failed_OnAnImplementationWrittenBeforeIt_ReportsDegraded()
    {
        var old = new Moq.Mock<IHealth> { CallBase = true };

        old.Object.Failed("gave up", null);

        old.Verify(h => h.Degraded("gave up", null), Moq.Times.Once);
    }

    [TestMethod]
    public void OkWithDuration_Snapshot_ReadsLabelAndDurationAsOneMessage()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        var tree = new HealthTree("svc", time);
        var job = HealthNode.Of(tree.NewScope("job-a"))!;
        job.Degraded("failed once", new IOException("disk"));
        time.Advance(TimeSpan.FromSeconds(3));

        job.OkWithDuration("Finished", TimeSpan.FromMilliseconds(1500));

        HealthStatus first = tree.Snapshot().Find("job-a")!;
        Assert.AreEqual(HealthLevel.Ok, first.Level);
        Assert.AreEqual("Finished (1.5s)", first.Message);
        Assert.IsNull(first.Error);
        Assert.AreEqual(time.GetUtcNow(), first.LastChanged);
        Assert.AreEqual("Finished (1.5s)", tree.Snapshot().Find("job-a")!.Message, "A second snapshot reads the same message.");
    }

    [TestMethod]
    public void OkWithDuration_LaterReport_ReplacesIt()
    {
        var tree = new HealthTree();
        var job = HealthNode.Of(tree.NewScope("job-a"))!;

        job.OkWithDuration("OK", TimeSpan.FromMilliseconds(12.5));
        HealthStatus before = tree.Snapshot();
        job.Ok("Running");

        Assert.AreEqual("OK (12.5ms)", before.Find("job-a")!.Message, "A taken snapshot keeps its message.");
        Assert.AreEqual("Running", tree.Snapshot().Find("job-a")!.Message);
        job.Close();
        job.OkWithDuration("OK", TimeSpan.FromSeconds(1));
        Assert.IsNull(tree.Snapshot().Find("job-a"), "A closed scope ignores it like any report.");
    }

    [TestMethod]
    public void LastChanged_IsTheClocksUtcTime()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        var tree = new HealthTree("svc", time);
        IHealth scope = tree.NewScope("a");
        time.Advance(TimeSpan.FromMinutes(5));

        scope.Ok("up");

        HealthStatus a = tree.Snapshot().Find("a")!;
        Assert.AreEqual(time.GetUtcNow().UtcDateTime, a.LastChanged.UtcDateTime);
        Assert.AreEqual(TimeSpan.Zero, a.LastChanged.Offset);
    }

    [TestMethod]
    [DataRow("Ok", "status")]
    [DataRow("Stopped", "reason")]
    [DataRow("Degraded", "reason")]
    [DataRow("Failed", "reason")]
    [DataRow("OkWithDuration", "label")]
    [DataRow("OkAsOf", "status")]
    public void Report_NullMessage_ThrowsNamingItAndKeepsTheLastReport(string report, string parameter)
    {
        // Refused where it is given: a null message kept in the tree would only fail later, in
        // whatever reads it (a snapshot printed by a health check).
        var tree = new HealthTree();
        var scope = HealthNode.Of(tree.NewScope("job"))!;
        scope.Ok("up");
        Action call = report switch
        {
            "Ok" => () => scope.Ok(null!),
            "Stopped" => () => scope.Stopped(null!),
            "Degraded" => () => scope.Degraded(null!, new IOException("disk")),
            "Failed" => () => scope.Failed(null!, new IOException("disk")),
            "OkWithDuration" => () => scope.OkWithDuration(null!, TimeSpan.FromSeconds(1)),
            _ => () => scope.Ok(null!, TimeProvider.System.GetTimestamp()),
        };

        var error = Assert.ThrowsExactly<ArgumentNullException>(call);

        Assert.AreEqual(parameter, error.ParamName);
        HealthStatus job = tree.Snapshot().Find("job")!;
        Assert.AreEqual(HealthLevel.Ok, job.Level);
        Assert.AreEqual("up", job.Message);
    }

    [TestMethod]
    public void Close_JobScopesComeAndGo_TheTreeDropsClosedScopesAndStaysSmall()
    {
        // A long-running group adds and ends jobs for days: the scopes they closed must not pile up.
        var tree = new HealthTree();
        var open = new Queue<IHealth>();
        for (int i = 0; i < 10_000; i++)
        {
            open.Enqueue(tree.NewScope("job-" + i));
            if (open.Count > 5)
            {
                open.Dequeue().Close();
            }

            Assert.IsLessThanOrEqualTo((2 * open.Count) + 8, tree.RetainedScopes, $"After {i + 1} scopes, {open.Count} of them open.");
        }

        while (open.Count > 0)
        {
            open.Dequeue().Close();
        }

        Assert.IsLessThanOrEqualTo(8, tree.RetainedScopes);
        tree.NewScope("later").Ok("shows");
        CollectionAssert.AreEqual(new[] { "later" }, tree.Snapshot().Children.Select(c => c.Name).ToArray());
    }

    [TestMethod]
    public async Task Close_ScopesClosedOnManyThreadsWhileOthersAreCreated_TheTreeShowsExactlyTheOpenOnesInOrder()
    {
        // Job scopes close without the tree's lock, on every worker at once, while the group
        // creates the scopes of later jobs and someone takes snapshots.
        var tree = new HealthTree();
        const int Closers = 4;
        const int PerCloser = 2_000;
        IHealth[] closing = [.. Enumerable.Range(0, Closers * PerCloser).Select(i => tree.NewScope("old-" + i))];
        using var go = new Barrier(Closers + 2);
        Task[] closers = [.. Enumerable.Range(0, Closers).Select(c => Task.Run(() =>
        {
            go.SignalAndWait(Waits.Timeout);
            for (int i = c; i < closing.Length; i += Closers)
            {
                closing[i].Close();
            }
        }))];
        Task<string[]> creator = Task.Run(() =>
        {
            go.SignalAndWait(Waits.Timeout);
            string[] names = [.. Enumerable.Range(0, 3_000).Select(i => "new-" + i)];
            foreach (string name in names)
            {
                tree.NewScope(name).Ok("up");
            }

            return names;
        });
        Task snapshots = Task.Run(() =>
        {
            go.SignalAndWait(Waits.Timeout);
            while (!creator.IsCompleted)
            {
                _ = tree.Snapshot();
            }
        });

        await Task.WhenAll([.. closers, creator, snapshots]).OrTimeout();

        CollectionAssert.AreEqual(creator.Result, tree.Snapshot().Children.Select(c => c.Name).ToArray(), "Every closed scope is gone, every new one is there, in the order created.");
        Assert.IsLessThanOrEqualTo((2 * creator.Result.Length) + 8, tree.RetainedScopes, "The closed scopes were dropped as they closed.");
        foreach (IHealth scope in closing.Take(3))
        {
            scope.Ok("late");
        }

        Assert.IsFalse(tree.Snapshot().Children.Any(c => c.Message == "late"), "A closed scope stays closed.");
    }

    [TestMethod]
    public async Task Close_WhileAChildIsCreatedUnderIt_TheChildIsClosedToo()
    {
        // A scope without children closes without the tree's lock; a child created under it at
        // that moment must still end up closed, as one created after the close is.
        var tree = new HealthTree();
        for (int round = 0; round < 2_000; round++)
        {
            IHealth parent = tree.NewScope("parent-" + round);
            using var go = new Barrier(2);
            Task close = Task.Run(() =>
            {
                go.SignalAndWait(Waits.Timeout);
                parent.Close();
            });
            Task<IHealth> create = Task.Run(() =>
            {
                go.SignalAndWait(Waits.Timeout);
                return parent.NewScope("child");
            });
            await Task.WhenAll(close, create).OrTimeout();

            HealthNode child = HealthNode.Of(create.Result)!;
            child.Ok("after the close");
            Assert.AreNotEqual("after the close", child.Snapshot().Message, $"Round {round}: the child of a closed scope is closed.");
        }

        Assert.IsEmpty(tree.Snapshot().Children);
    }

    [TestMethod]
    [DataRow(1, DisplayName = "in random order")]
    [DataRow(2, DisplayName = "newest first")]
    public void Close_ScopesCloseInAnyOrderWhileOthersAreCreated_TheTreeStaysSmallAndInOrder(int order)
    {
        // Closed scopes are unlinked from the front of their parent's list, where the first jobs
        // to end sit; scopes that close in another order must still go, and the open ones stay
        // linked, in the order created, with new ones appended after a compaction.
        var tree = new HealthTree();
        var random = new Random(12345);
        var open = new List<(string Name, IHealth Scope)>();
        for (int i = 0; i < 4_000; i++)
        {
            string name = "job-" + i;
            open.Add((name, tree.NewScope(name)));
            int closes = i % 3 == 0 ? 0 : random.Next(0, 3);
            for (int c = 0; c < closes && open.Count > 0; c++)
            {
                int index = order == 1 ? random.Next(open.Count) : open.Count - 1;
                open[index].Scope.Close();
                open.RemoveAt(index);
            }

            Assert.IsLessThanOrEqualTo((2 * open.Count) + 8, tree.RetainedScopes, $"After {i + 1} scopes, {open.Count} of them open.");
        }

        CollectionAssert.AreEqual(open.Select(o => o.Name).ToArray(), tree.Snapshot().Children.Select(c => c.Name).ToArray());

        // Newest first: the compaction that finds them all closed unlinks the last child too.
        for (int i = open.Count - 1; i >= 0; i--)
        {
            open[i].Scope.Close();
        }

        Assert.IsLessThanOrEqualTo(8, tree.RetainedScopes);
        tree.NewScope("later").Ok("shows");
        CollectionAssert.AreEqual(new[] { "later" }, tree.Snapshot().Children.Select(c => c.Name).ToArray());
    }

    [TestMethod]
    [DataRow(false, DisplayName = "Closed one by one")]
    [DataRow(true, DisplayName = "Closed with their parent's children")]
    public async Task Close_ManyScopes_AClosedScopeSomeoneHoldsKeepsNoneOfItsSiblings(bool closeChildren)
    {
        var tree = new HealthTree();
        var parent = HealthNode.Of(tree.NewScope("group"))!;
        (IHealth held, WeakReference[] siblings) = NewScopes(parent, 100);

        if (closeChildren)
        {
            parent.CloseChildren();
        }
        else
        {
            held.Close();
            foreach (WeakReference sibling in siblings)
            {
                ((IHealth)sibling.Target!).Close();
            }
        }

        // A caller may keep a job's scope long after the job (a log, a test); the other jobs' scopes
        // must go. Closed one by one, the last few closed stay in the parent until more close.
        int unlinked = closeChildren ? siblings.Length : siblings.Length - 8;
        Assert.IsLessThanOrEqualTo(siblings.Length - unlinked, parent.RetainedChildren);
        foreach (WeakReference sibling in siblings.Take(unlinked))
        {
            Assert.IsTrue(await sibling.IsCollectedAsync(), "A closed scope links to none of its siblings.");
        }

        GC.KeepAlive(held);
    }

    [TestMethod]
    public void CloseChildren_ManyScopes_DropsThemAll()
    {
        var tree = new HealthTree();
        var parent = HealthNode.Of(tree.NewScope("group"))!;
        IHealth[] children = [.. Enumerable.Range(0, 20).Select(i => parent.NewScope("job-" + i))];
        children[3].Close();
        Assert.AreEqual(20, parent.RetainedChildren, "Fewer than eight closed: kept until more close.");

        parent.CloseChildren();

        Assert.AreEqual(0, parent.RetainedChildren);
        children[4].Ok("closed: ignored");
        parent.NewScope("new").Ok("shows");
        CollectionAssert.AreEqual(new[] { "new" }, tree.Snapshot().Find("group")!.Children.Select(c => c.Name).ToArray());
    }

    [TestMethod]
    public void CloseChildren_ScopeWithoutChildren_ChangesNothing()
    {
        var tree = new HealthTree();
        var scope = HealthNode.Of(tree.NewScope("job"))!;
        scope.Ok("running");

        scope.CloseChildren();

        Assert.AreEqual("running", tree.Snapshot().Find("job")!.Message);
        Assert.AreEqual(0, scope.RetainedChildren);
    }

    [TestMethod]
    public void Report_ToAClosedScope_ChangesNothingItsOwnSnapshotShows()
    {
        var tree = new HealthTree();
        var scope = HealthNode.Of(tree.NewScope("job"))!;
        scope.Ok("last words");

        scope.Close();
        scope.Failed("after the close", new IOException("late"));

        HealthStatus own = scope.Snapshot();
        Assert.AreEqual(HealthLevel.Ok, own.Level);
        Assert.AreEqual("last words", own.Message);
        Assert.IsNull(own.Error);
    }

    [TestMethod]
    public void Close_TreeThenItsScopesCloseThemselves_SnapshotHasOnlyTheNewScopes()
    {
        // A group's stop closes the tree's scopes at once; the jobs close their own scopes after
        // that, which must change nothing, and the scopes made later show as usual.
        var tree = new HealthTree();
        IHealth[] old = [tree.NewScope("a"), tree.NewScope("b")];
        IHealth grandchild = old[0].NewScope("a1");

        tree.Close();
        old[0].Close();
        grandchild.Close();
        old[1].Close();

        Assert.AreEqual(0, tree.Snapshot().Children.Count);
        old[0].Ok("late");
        tree.NewScope("c").Ok("new");
        HealthStatus snapshot = tree.Snapshot();
        CollectionAssert.AreEqual(new[] { "c" }, snapshot.Children.Select(c => c.Name).ToArray());
        Assert.AreEqual("new", snapshot.Find("c")!.Message);
    }

    /// <summary>Creates scopes under <paramref name="parent"/>: the first is returned, the others only weakly.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (IHealth First, WeakReference[] Others) NewScopes(HealthNode parent, int count)
    {
        IHealth[] scopes = [.. Enumerable.Range(0, count).Select(i => parent.NewScope("job-" + i))];
        return (scopes[0], [.. scopes.Skip(1).Select(scope => new WeakReference(scope))]);
    }
}
