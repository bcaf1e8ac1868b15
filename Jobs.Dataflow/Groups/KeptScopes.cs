using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The health scopes of jobs that ended by themselves, kept with their last status until the group
/// stops (see docs/behaviour.md#rule-7). Guarded by the group's lock; closing happens outside it.
/// </summary>
/// <remarks>
/// Keyed by parent scope, kind and job name, which give the scope's name: a job added later under the same name takes its place
/// when it is launched, so the tree shows the latest job of that name, not a pile of old ones, and a
/// job that gave up is no longer reported once a new one of its name runs. Only the user's scope and
/// the job's name are kept, not the job, its delegate or its source.
/// </remarks>
internal sealed class KeptScopes
{
    private Dictionary<Key, Kept> _scopes = new();

    /// <summary>
    /// Keeps the scope of a job that ended by itself; returns the one it replaces, to be closed
    /// (an empty <see cref="Kept"/>, whose closing does nothing, when it replaces none).
    /// </summary>
    public Kept AddLocked(IHealth parent, Job job, Kept kept)
    {
        // One lookup: with many short jobs of one name, every job that ends replaces the last.
        ref Kept slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_scopes, new Key(parent, job), out _);
        Kept replaced = slot;
        slot = kept;
        return replaced;
    }

    /// <summary>Takes the kept scope a newly launched job of the same name replaces, if any.</summary>
    public Kept? RemoveLocked(IHealth parent, Job job) =>
        _scopes.Remove(new Key(parent, job), out Kept kept) ? kept : null;

    /// <summary>Takes every kept scope, for the stop to close.</summary>
    public Kept[] TakeAllLocked()
    {
        Kept[] all = [.. _scopes.Values];

        // Replaced, not cleared: a group that ran thousands of distinct names would keep room for
        // them all, and a registry keeps its stopped groups.
        // Stryker disable once Statement: a stopped group keeps no scopes; only memory tells.
        _scopes = new();
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

    /// <summary>
    /// A parent scope, by reference (an <see cref="IHealth"/> may not define equality), a job's kind
    /// and its name. Two jobs have the same scope name exactly when they have the same kind and
    /// name (each kind's scope prefix begins with a letter of its own), so the key needs no scope
    /// name, which would cost a string per job.
    /// </summary>
    private readonly struct Key(IHealth parent, Job job) : IEquatable<Key>
    {
        private readonly IHealth _parent = parent;
        private readonly string _kind = job.Kind;
        private readonly string _name = job.Name;

        public bool Equals(Key other) =>
            ReferenceEquals(_parent, other._parent)
            && string.Equals(_kind, other._kind, StringComparison.Ordinal)
            && string.Equals(_name, other._name, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is Key other && Equals(other);

        // The kind is left out of the hash: jobs of different kinds rarely share a name.
        public override int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(_parent), StringComparer.Ordinal.GetHashCode(_name));
    }
}
