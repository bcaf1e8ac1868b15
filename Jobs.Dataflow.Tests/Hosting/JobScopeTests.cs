using System.Collections.Concurrent;
using System.Threading.Channels;
using Jobs.Dataflow.Hosting;
using Jobs.Dataflow.Tests.TestUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moq;

namespace Jobs.Dataflow.Tests.Hosting;

/// <summary>
/// A dependency-injection scope per run or per item: a scoped service is made once per attempt,
/// run or item, shared within it, and disposed when it ends, whatever its outcome.
/// </summary>
[TestClass]
public sealed class JobScopeTests
{
    [TestMethod]
    public async Task OneShot_TwoFailedAttemptsThenSuccess_EachAttemptHasItsOwnScopeDisposedAfterIt()
    {
        using ServiceProvider services = Services(out ScopedCounter counter);
        await using var harness = new GroupHarness();
        int attempts = 0;
        harness.Add(Job.OneShot(
            "scoped",
            services.InScope(async (provider, _, _) =>
            {
                ScopedService service = provider.GetRequiredService<ScopedService>();
                Assert.AreSame(service, provider.GetRequiredService<ScopedService>(), "One instance per attempt.");
                Assert.AreEqual(Interlocked.Increment(ref attempts) - 1, counter.Disposed, "The earlier attempts' scopes are disposed before the next one starts.");
                await Task.Yield();
                if (attempts < 3)
                {
                    throw new IOException("not yet");
                }
            }),
            new OneShotOptions { Retries = 2 }));

        await harness.StartAsync();
        await harness.WaitForEndAsync("scoped");

        Assert.AreEqual(3, counter.Created);
        Assert.AreEqual(3, counter.Disposed);
    }

    [TestMethod]
    public async Task Timer_EachRun_HasItsOwnScope()
    {
        using ServiceProvider services = Services(out ScopedCounter counter);
        await using var harness = new GroupHarness();
        var trigger = new Trigger(timeProvider: harness.Time);
        var ran = new SemaphoreSlim(0);
        var seen = new ConcurrentQueue<ScopedService>();
        harness.Add(Job.Timer(
            "scoped",
            services.InScope((provider, _) =>
            {
                seen.Enqueue(provider.GetRequiredService<ScopedService>());
                ran.Release();
                return Task.CompletedTask;
            }),
            TimeSpan.FromHours(1),
            new TimerOptions { Trigger = trigger }));

        await harness.StartAsync();
        trigger.Fire();
        await ran.WaitOrTimeout();
        trigger.Fire();
        await ran.WaitOrTimeout();
        await harness.StopAsync();

        Assert.HasCount(2, seen);
        Assert.AreNotSame(seen.First(), seen.Last());
        Assert.AreEqual(2, counter.Disposed);
    }

    [TestMethod]
    public async Task Observer_FiveItemsOneFailing_EachItemHasItsOwnScopeAndEveryScopeIsDisposed()
    {
        using ServiceProvider services = Services(out ScopedCounter counter);
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        for (int i = 1; i <= 5; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        harness.Add(Job.Observer(
            "scoped",
            services.InScopePerItem<int>((provider, item, _) =>
            {
                provider.GetRequiredService<ScopedService>().Items.Add(item);
                return item == 3 ? throw new FormatException("three") : Task.CompletedTask;
            }),
            channel.Reader));

        await harness.StartAsync();
        await harness.WaitForEndAsync("scoped");

        Assert.AreEqual(5, counter.Created);
        Assert.AreEqual(5, counter.Disposed, "The failing item's scope is disposed too.");
        Assert.IsTrue(counter.Instances.All(s => s.Items.Count == 1));
    }

    [TestMethod]
    public async Task Pipeline_TransformAndSink_EachItemHasAScopeInEachStage()
    {
        using ServiceProvider services = Services(out ScopedCounter counter);
        await using var harness = new GroupHarness();
        var channel = Channel.CreateUnbounded<int>();
        channel.Writer.TryWrite(1);
        channel.Writer.TryWrite(2);
        channel.Writer.Complete();
        var sunk = new ConcurrentQueue<string>();
        harness.Add(Job.Pipeline("scoped", channel.Reader)
            .Transform("load", services.InScopePerItem<int, string>((provider, item, _) =>
                Task.FromResult($"{item}@{provider.GetRequiredService<ScopedService>().Id}")))
            .Sink("store", services.InScopePerItem<string>((provider, item, _) =>
            {
                sunk.Enqueue($"{item}>{provider.GetRequiredService<ScopedService>().Id}");
                return Task.CompletedTask;
            })));

        await harness.StartAsync();
        await harness.WaitForEndAsync("scoped");

        Assert.AreEqual(4, counter.Created);
        Assert.AreEqual(4, counter.Disposed);
        Assert.HasCount(4, sunk.SelectMany(s => s.Split('@', '>').Skip(1)).Distinct().ToArray(), "Four scopes, four instances.");
    }

    [TestMethod]
    public async Task InScope_FunctionCancelledByTheStop_DisposesItsScope()
    {
        using ServiceProvider services = Services(out ScopedCounter counter);
        await using var harness = new GroupHarness();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Add(Job.OneShot("scoped", services.InScope(async (provider, _, token) =>
        {
            provider.GetRequiredService<ScopedService>();
            started.SetResult();
            await token.UntilCancelledAsync();
        })));

        await harness.StartAsync();
        await started.OrTimeout();
        await harness.StopAsync();

        Assert.AreEqual(1, counter.Disposed);
    }

    [TestMethod]
    public async Task InScope_FunctionAndTheScopesDisposalBothThrow_TheFunctionsErrorComesFirstWithTheDisposals()
    {
        using ServiceProvider services = new ServiceCollection().AddScoped<BrokenConnection>().BuildServiceProvider();
        var cause = new InvalidOperationException("table orders is locked");
        Task Fail(IServiceProvider provider)
        {
            provider.GetRequiredService<BrokenConnection>();
            throw cause;
        }

        Func<Task>[] calls =
        [
            () => services.InScope((provider, _) => Fail(provider))(CancellationToken.None),
            () => services.InScope((provider, _, _) => Fail(provider))(new HealthTree(), CancellationToken.None),
            () => services.InScopePerItem<int>((provider, _, _) => Fail(provider))(1, CancellationToken.None),
            () => services.InScopePerItem<int, int>(async (provider, item, _) =>
            {
                await Fail(provider);
                return item;
            })(1, CancellationToken.None),
        ];

        foreach (Func<Task> call in calls)
        {
            var error = await Assert.ThrowsExactlyAsync<AggregateException>(call);

            Assert.AreSame(cause, error.InnerExceptions[0]);
            Assert.AreEqual("connection already broken", error.InnerExceptions[1].Message);
            Assert.AreEqual("The function failed, and disposing its scope threw too. (table orders is locked) (connection already broken)", error.Message);
        }
    }

    [TestMethod]
    public async Task InScope_OnlyTheScopesDisposalThrows_FailsWithTheDisposalsError()
    {
        using ServiceProvider services = new ServiceCollection().AddScoped<BrokenConnection>().BuildServiceProvider();

        var error = await Assert.ThrowsExactlyAsync<IOException>(() => services.InScopePerItem<int, int>((provider, item, _) =>
        {
            provider.GetRequiredService<BrokenConnection>();
            return Task.FromResult(item);
        })(1, CancellationToken.None));

        Assert.AreEqual("connection already broken", error.Message);
    }

    [TestMethod]
    public async Task OneShot_AttemptAndItsScopesDisposalBothThrow_TheHealthAndTheLogKeepTheAttemptsError()
    {
        using ServiceProvider services = new ServiceCollection().AddScoped<BrokenConnection>().BuildServiceProvider();
        await using var harness = new GroupHarness();
        harness.Add(Job.OneShot("import", services.InScope((provider, _, _) =>
        {
            provider.GetRequiredService<BrokenConnection>();
            throw new InvalidOperationException("table orders is locked");
        })));

        await harness.StartAsync();
        await harness.WaitForEndAsync("import");

        HealthStatus health = harness.Health.Tree.Snapshot().Find(["job-import"])!;
        Assert.AreEqual(HealthLevel.Failed, health.Level);
        StringAssert.Contains(health.Message, "table orders is locked");
        LogEntry failure = harness.Logs.Entries.First(e => e.Level == LogLevel.Error && e.Exception is not null);
        Assert.IsInstanceOfType<InvalidOperationException>(((AggregateException)failure.Exception!).InnerExceptions[0]);
    }

    [TestMethod]
    public void InScope_ProviderWithoutAScopeFactory_ThrowsAtTheCall()
    {
        var provider = new Mock<IServiceProvider>();

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => provider.Object.InScope((_, _) => Task.CompletedTask));

        StringAssert.Contains(error.Message, nameof(IServiceScopeFactory));
    }

    [TestMethod]
    public void InScope_BadArguments_ThrowNamingThem()
    {
        using ServiceProvider services = Services(out _);
        IServiceProvider? none = null;

        Assert.AreEqual("services", Assert.ThrowsExactly<ArgumentNullException>(() => none!.InScope((_, _) => Task.CompletedTask)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => services.InScope((Func<IServiceProvider, CancellationToken, Task>)null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => services.InScope((Func<IServiceProvider, IHealth, CancellationToken, Task>)null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => services.InScopePerItem<int>(null!)).ParamName);
        Assert.AreEqual("fn", Assert.ThrowsExactly<ArgumentNullException>(() => services.InScopePerItem<int, int>(null!)).ParamName);
    }

    private static ServiceProvider Services(out ScopedCounter counter)
    {
        var made = new ScopedCounter();
        counter = made;
        return new ServiceCollection()
            .AddSingleton(made)
            .AddScoped<ScopedService>()
            .BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    /// <summary>Counts the scoped services made and disposed.</summary>
    private sealed class ScopedCounter
    {
        private int _created;
        private int _disposed;

        public int Created => Volatile.Read(ref _created);

        public int Disposed => Volatile.Read(ref _disposed);

        public ConcurrentQueue<ScopedService> Instances { get; } = new();

        public int NextId(ScopedService service)
        {
            Instances.Enqueue(service);
            return Interlocked.Increment(ref _created);
        }

        public void CountDisposed() => Interlocked.Increment(ref _disposed);
    }

    /// <summary>A scoped service, like a DbContext: asynchronously disposable.</summary>
    private sealed class ScopedService : IAsyncDisposable
    {
        private readonly ScopedCounter _counter;

        public ScopedService(ScopedCounter counter)
        {
            _counter = counter;
            Id = counter.NextId(this);
        }

        public int Id { get; }

        public List<int> Items { get; } = [];

        public ValueTask DisposeAsync()
        {
            _counter.CountDisposed();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A scoped connection whose disposal throws, as one broken under it would.</summary>
    private sealed class BrokenConnection : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => throw new IOException("connection already broken");
    }
}
