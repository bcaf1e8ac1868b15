using Microsoft.Extensions.DependencyInjection;

namespace Jobs.Dataflow.Hosting;

/// <summary>
/// Runs a job's function in a dependency-injection scope of its own, the way ASP.NET Core runs a
/// request: a scope per one-shot attempt, per timer run, or per observer or pipeline item, so the
/// function can use scoped services (an Entity Framework <c>DbContext</c>, a unit of work) that are
/// disposed when it returns.
/// </summary>
/// <remarks>
/// Each call creates an <see cref="AsyncServiceScope"/> from the provider's
/// <see cref="IServiceScopeFactory"/>, passes its <see cref="IServiceProvider"/> to the function, and
/// disposes it when the function's task ends, whether it succeeded, failed or was cancelled. A retry
/// is a new call: a failed attempt's scope, with whatever state it held, is gone before the next one.
/// </remarks>
/// <example>
/// <code>
/// builder.Services.AddDbContext&lt;OrdersDb&gt;();
/// builder.Services.AddJobGroup("orders", (group, services) => group.Add(
///     Job.Timer("purge", services.InScope((provider, ct) => provider.GetRequiredService&lt;OrdersDb&gt;().PurgeAsync(ct)), TimeSpan.FromHours(1))));
/// </code>
/// </example>
public static class JobScopeExtensions
{
    /// <summary>Wraps a timer job's function: each run gets a scope of its own.</summary>
    /// <param name="services">The provider whose <see cref="IServiceScopeFactory"/> makes the scopes (the one <c>AddJobGroup</c> passes to its callback).</param>
    /// <param name="fn">The function, given the run's scoped provider and the job's token.</param>
    /// <returns>The function to give <see cref="Job.Timer(string, TimerFunc, TimeSpan, TimerOptions?)"/> or <see cref="Job.Cron"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="services"/> has no <see cref="IServiceScopeFactory"/>: it cannot make scopes.</exception>
    public static TimerFunc InScope(this IServiceProvider services, Func<IServiceProvider, CancellationToken, Task> fn)
    {
        IServiceScopeFactory scopes = Scopes(services);
        ArgumentNullException.ThrowIfNull(fn);
        return cancellationToken => InNewScopeAsync(scopes, (fn, cancellationToken), static (provider, state) => Completed(state.fn(provider, state.cancellationToken)));
    }

    /// <summary>Wraps a one-shot job's function: each attempt gets a scope of its own.</summary>
    /// <param name="services">The provider whose <see cref="IServiceScopeFactory"/> makes the scopes.</param>
    /// <param name="fn">The function, given the attempt's scoped provider, the job's health and its token.</param>
    /// <returns>The function to give <see cref="Job.OneShot"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="services"/> has no <see cref="IServiceScopeFactory"/>: it cannot make scopes.</exception>
    public static OneShotFunc InScope(this IServiceProvider services, Func<IServiceProvider, IHealth, CancellationToken, Task> fn)
    {
        IServiceScopeFactory scopes = Scopes(services);
        ArgumentNullException.ThrowIfNull(fn);
        return (health, cancellationToken) => InNewScopeAsync(scopes, (fn, health, cancellationToken), static (provider, state) => Completed(state.fn(provider, state.health, state.cancellationToken)));
    }

    /// <summary>Wraps an observer's handler or a pipeline's sink: each item (or batch) gets a scope of its own.</summary>
    /// <typeparam name="T">The type of the items.</typeparam>
    /// <param name="services">The provider whose <see cref="IServiceScopeFactory"/> makes the scopes.</param>
    /// <param name="fn">The handler, given the item's scoped provider, the item and the job's token.</param>
    /// <returns>The handler to give <c>Job.Observer</c> or <see cref="Pipeline{T}.Sink"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="services"/> has no <see cref="IServiceScopeFactory"/>: it cannot make scopes.</exception>
    public static ObserverFunc<T> InScopePerItem<T>(this IServiceProvider services, Func<IServiceProvider, T, CancellationToken, Task> fn)
    {
        IServiceScopeFactory scopes = Scopes(services);
        ArgumentNullException.ThrowIfNull(fn);
        return (item, cancellationToken) => InNewScopeAsync(scopes, (fn, item, cancellationToken), static (provider, state) => Completed(state.fn(provider, state.item, state.cancellationToken)));
    }

    /// <summary>Wraps a pipeline stage's asynchronous function: each item gets a scope of its own.</summary>
    /// <typeparam name="TIn">The type of the stage's input.</typeparam>
    /// <typeparam name="TOut">The type of its output.</typeparam>
    /// <param name="services">The provider whose <see cref="IServiceScopeFactory"/> makes the scopes.</param>
    /// <param name="fn">The function, given the item's scoped provider, the item and the job's token.</param>
    /// <returns>The function to give <see cref="Pipeline{T}.Transform{TOut}(string, Func{T, CancellationToken, Task{TOut}}, StageOptions?)"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="fn"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="services"/> has no <see cref="IServiceScopeFactory"/>: it cannot make scopes.</exception>
    public static Func<TIn, CancellationToken, Task<TOut>> InScopePerItem<TIn, TOut>(this IServiceProvider services, Func<IServiceProvider, TIn, CancellationToken, Task<TOut>> fn)
    {
        IServiceScopeFactory scopes = Scopes(services);
        ArgumentNullException.ThrowIfNull(fn);
        return (item, cancellationToken) => InNewScopeAsync(scopes, (fn, item, cancellationToken), static (provider, state) => state.fn(provider, state.item, state.cancellationToken));
    }

    /// <summary>
    /// Runs <paramref name="fn"/> in a new scope and disposes the scope when its task ends. When the
    /// function fails and the disposal throws as well, the function's error is the cause and must
    /// not be lost behind the disposal's: both are thrown together, the function's first.
    /// </summary>
    private static async Task<TResult> InNewScopeAsync<TState, TResult>(IServiceScopeFactory scopes, TState state, Func<IServiceProvider, TState, Task<TResult>> fn)
    {
        AsyncServiceScope scope = scopes.CreateAsyncScope();
        TResult result;
        try
        {
            result = await fn(scope.ServiceProvider, state).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            await DisposeAfterAsync(scope, error).ConfigureAwait(false);
            throw;
        }

        await scope.DisposeAsync().ConfigureAwait(false);
        return result;
    }

    /// <summary>A function's task as one with a result, for <see cref="InNewScopeAsync"/>.</summary>
    private static async Task<bool> Completed(Task task)
    {
        await task.ConfigureAwait(false);
        return true;
    }

    private static async Task DisposeAfterAsync(AsyncServiceScope scope, Exception error)
    {
        try
        {
            await scope.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception disposeError)
        {
            // The aggregate's message ends with both messages, the function's first.
            throw new AggregateException("The function failed, and disposing its scope threw too.", error, disposeError);
        }
    }

    private static IServiceScopeFactory Scopes(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetRequiredService<IServiceScopeFactory>();
    }
}
