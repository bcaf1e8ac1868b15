using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The logger of a group's jobs: it writes every entry inside the group's labels scope, and keeps
/// a broken logging provider from breaking the jobs.
/// </summary>
/// <remarks>
/// A scope begun once on the job's task would live in an <see cref="AsyncLocal{T}"/> and not
/// flow to work that other threads start (a timer tick, a <c>Fire()</c>, an
/// <see cref="IObservable{T}"/> push), so the scope is begun around each entry instead.
/// A provider that throws (Microsoft.Extensions.Logging rethrows its providers' failures) would
/// otherwise fault a job between its own catch blocks, skip its bookkeeping and hang a stop; the
/// failure goes to <see cref="Trace"/>, the one place left to report it.
/// </remarks>
internal sealed class GroupLogger : ILogger
{
    private readonly ILogger _inner;
    private readonly LabelsScope? _scope;

    public GroupLogger(ILogger inner, LabelsScope? scope)
    {
        _inner = inner;
        _scope = scope;
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        try
        {
            return _inner.BeginScope(state);
        }
        catch (Exception ex)
        {
            Trace.TraceError("Jobs.Dataflow: a logging provider failed to begin a scope: {0}", ex);
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return _inner.IsEnabled(logLevel);
        }
        catch (Exception ex)
        {
            Trace.TraceError("Jobs.Dataflow: a logging provider failed: {0}", ex);
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            if (!_inner.IsEnabled(logLevel))
            {
                return;
            }

            using IDisposable? scope = _scope is null ? null : _inner.BeginScope(_scope);
            _inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception ex)
        {
            Trace.TraceError("Jobs.Dataflow: a logging provider failed to write event {0}: {1}", eventId.Id, ex);
        }
    }
}
