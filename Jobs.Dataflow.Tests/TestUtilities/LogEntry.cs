using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>One captured log entry, with its structured fields and the scopes active when it was written.</summary>
internal sealed record LogEntry(
    string Category,
    LogLevel Level,
    EventId EventId,
    string Message,
    Exception? Exception,
    IReadOnlyDictionary<string, object?> Fields,
    IReadOnlyList<object?> Scopes)
{
    public object? this[string field] => Fields.TryGetValue(field, out object? value) ? value : null;

    public bool HasScopeField(string key, object? value) =>
        Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>()
            .SelectMany(pairs => pairs)
            .Any(pair => pair.Key == key && Equals(pair.Value, value));
}
