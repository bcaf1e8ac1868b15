using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Internal;

/// <summary>
/// Wraps a group's logger so that every entry is written inside the group's labels scope.
/// </summary>
/// <remarks>
/// A scope begun once on the job's task would live in an <see cref="AsyncLocal{T}"/> and not
/// flow to work that other threads start (a timer tick, a <c>Fire()</c>, an
/// <see cref="IObservable{T}"/> push), so the scope is begun around each entry instead.
/// </remarks>
internal sealed class LabelsLogger : ILogger
{
    private readonly ILogger _inner;
    private readonly LabelsScope _scope;

    public LabelsLogger(ILogger inner, LabelsScope scope)
    {
        _inner = inner;
        _scope = scope;
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => _inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => _inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!_inner.IsEnabled(logLevel))
        {
            return;
        }

        using IDisposable? scope = _inner.BeginScope(_scope);
        _inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
