using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>A logger provider that captures every entry, and lets a test wait for one.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly Recorder<LogEntry> _entries = new();
    private readonly AsyncLocal<ScopeNode?> _scopes = new();

    public ILoggerFactory Factory => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(this));

    public IReadOnlyList<LogEntry> Entries => _entries.Snapshot();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>Waits for an entry (already written or still to come) that matches.</summary>
    public Task<LogEntry> WaitForAsync(Func<LogEntry, bool> predicate) => _entries.WaitForAsync(predicate);

    private sealed record ScopeNode(object? State, ScopeNode? Parent);

    private sealed class CapturingLogger(LogCapture capture, string category) : ILogger
    {
        public IDisposable BeginScope<TState>(TState state)
            where TState : notnull
        {
            ScopeNode? parent = capture._scopes.Value;
            capture._scopes.Value = new ScopeNode(state, parent);
            return new PopScope(capture, parent);
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = new Dictionary<string, object?>();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (KeyValuePair<string, object?> pair in pairs)
                {
                    fields[pair.Key] = pair.Value;
                }
            }

            var scopes = new List<object?>();
            for (ScopeNode? node = capture._scopes.Value; node is not null; node = node.Parent)
            {
                scopes.Add(node.State);
            }

            capture._entries.Add(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception, fields, scopes));
        }
    }

    private sealed class PopScope(LogCapture capture, ScopeNode? parent) : IDisposable
    {
        public void Dispose() => capture._scopes.Value = parent;
    }
}
