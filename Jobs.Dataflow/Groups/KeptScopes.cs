using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The health scopes of jobs that ended by themselves, kept with their last status until the group
/// stops (see docs/behaviour.md#rule-7). Guarded by the group's lock; closing happens outside it.
/// </summary>
/// <remarks>
/// Keyed by parent scope and scope name: a job added later under the same name takes its place
/// when it is launched, so the tree shows the latest job of that name, not a pile of old ones, and a
/// job that gave up is no longer reported once a new one of its name runs. Only the user's scope and
/// the job's name are kept, not the job, its delegate or its source.
/// </remarks>
internal sealed class KeptScopes
{
    private readonly Dictionary<Key, Kept> _scopes = new();

    /// <summary>Keeps the scope of a job that ended by itself; returns one it replaces, to be closed.</summary>
    public Kept? AddLocked(IHealth parent, string scope, Kept kept)
    {
        var key = new Key(parent, scope);
        _scopes.Remove(key, out Kept replaced);
        _scopes.Add(key, kept);
        return replaced.Scope is null ? null : replaced;
    }

    /// <summary>Takes the kept scope a newly launched job of the same name replaces, if any.</summary>
    public Kept? RemoveLocked(IHealth parent, string scope) =>
        _scopes.Remove(new Key(parent, scope), out Kept kept) ? kept : null;

    /// <summary>Takes every kept scope, for the stop to close.</summary>
    public Kept[] TakeAllLocked()
    {
        Kept[] all = [.. _scopes.Values];
        _scopes.Clear();
        return all;
    }

    /// <summary>A kept scope, and the name of its job for the log if closing it throws.</summary>
    internal readonly record struct Kept(IHealth? Scope, string JobName)
    {
        public void Close(ILogger logger)
        {
            try
            {
                Scope?.Close();
            }
            catch (Exception ex)
            {
                Log.HealthReportFailed(logger, JobName, ex);
            }
        }
    }

    /// <summary>A parent scope, by reference (an <see cref="IHealth"/> may not define equality), and a scope name.</summary>
    private readonly struct Key(IHealth parent, string scope) : IEquatable<Key>
    {
        private readonly IHealth _parent = parent;
        private readonly string _scope = scope;

        public bool Equals(Key other) => ReferenceEquals(_parent, other._parent) && string.Equals(_scope, other._scope, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is Key other && Equals(other);

        public override int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(_parent), StringComparer.Ordinal.GetHashCode(_scope));
    }
}
