using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Jobs.Dataflow;

/// <summary>
/// The health scopes of jobs that ended by themselves, kept with their last status until the group
/// stops (see docs/behaviour.md#rule-7): one <see cref="Slot"/> per parent scope, kind and job name.
/// </summary>
/// <remarks>
/// The slots are found under the group's lock, when jobs are launched; a job that ends keeps its
/// scope in its slot without any lock (see <see cref="Slot"/>). A job added later under the same
/// name takes the kept scope out when it is launched, so the tree shows the latest job of that name,
/// not a pile of old ones, and a job that gave up is no longer reported once a new one of its name
/// runs. A slot holds only the user's scope and the job's name, not the job, its delegate or its source.
/// </remarks>
internal sealed class KeptScopes
{
    private Dictionary<Key, Slot> _slots = new();

    // The slot found last, and its key: jobs are often added in bulk under one name, and comparing
    // a key costs less than hashing its name.
    private Key _lastKey;
    private Slot? _last;

    /// <summary>Gets the number of slots; under the group's lock.</summary>
    public int CountLocked => _slots.Count;

    /// <summary>Gets whether two jobs keep their scopes in one slot: same parent scope, kind and name.</summary>
    public static bool ShareSlot(JobContext first, JobContext second) =>
        new Key(first.ParentHealth, first.Job).Equals(new Key(second.ParentHealth, second.Job));

    /// <summary>
    /// Gets the slot of the job's name under <paramref name="parent"/>; one that does not exist yet
    /// is made when <paramref name="create"/> is true, else <see langword="null"/>. Under the group's lock.
    /// </summary>
    public Slot? SlotLocked(IHealth parent, Job job, bool create)
    {
        var key = new Key(parent, job);

        // Stryker disable once Logical,Equality,Block : without the shortcut the dictionary finds the same slot.
        if (_last is not null && key.Equals(_lastKey))
        {
            return _last;
        }

        if (!create)
        {
            return _slots.GetValueOrDefault(key);
        }

        ref Slot? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_slots, key, out _);
        _lastKey = key;
        return _last = slot ??= new Slot(job.Name);
    }

    /// <summary>
    /// Takes every slot, for the stop to close what they keep after its wait for the jobs (a job
    /// that ends later closes its own scope); under the group's lock.
    /// </summary>
    public Slot[] TakeAllLocked()
    {
        Slot[] all = [.. _slots.Values];

        // Replaced, not cleared: a group that ran thousands of distinct names would keep room for
        // them all, and a registry keeps its stopped groups.
        // Stryker disable once Statement: a stopped group keeps no scopes; only memory tells.
        _slots = new();
        _lastKey = default;
        _last = null;
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
            catch (Exception ex) when (Scope is FailedBefore)
            {
                // The job's scope failed before, and that first failure was the error.
                Log.HealthReportFailedAgain(logger, JobName, ex);
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

    /// <summary>
    /// Where the jobs of one name keep their scope once they end by themselves: the last to end
    /// keeps its scope, and closes the one it replaces.
    /// </summary>
    /// <remarks>
    /// Changed by atomic exchanges, not under the group's lock, so that jobs ending at once on
    /// many workers do not wait for each other. A job that ends as the group stops keeps its scope,
    /// then checks whether the group stopped meanwhile, and takes the scope back to close it unless
    /// the stop took it first (see <see cref="TryTakeBack"/>): whichever of the two comes second
    /// sees the other, so the scope is closed, once.
    /// </remarks>
    internal sealed class Slot(string jobName)
    {
        private IHealth? _scope;

        /// <summary>Keeps <paramref name="scope"/>; returns the scope it replaces, to be closed.</summary>
        public Kept Keep(IHealth? scope) => new(Interlocked.Exchange(ref _scope, scope), jobName);

        /// <summary>Takes the kept scope out, to be closed.</summary>
        public Kept Take() => new(Interlocked.Exchange(ref _scope, null), jobName);

        /// <summary>Takes <paramref name="scope"/> back, if it is still the one kept.</summary>
        public bool TryTakeBack(IHealth scope) => Interlocked.CompareExchange(ref _scope, null, scope) == scope;
    }

    /// <summary>
    /// A user's scope whose job logged a failure of it already: the first failure of a job's scope is
    /// an error, later ones are logged at debug level. Only closed; it holds the scope, not the job.
    /// </summary>
    internal sealed class FailedBefore(IHealth scope) : IHealth
    {
        public void Ok(string status) => scope.Ok(status);

        public void Stopped(string reason) => scope.Stopped(reason);

        public void Degraded(string reason, Exception? error) => scope.Degraded(reason, error);

        public IHealth NewScope(string name) => scope.NewScope(name);

        public void Close() => scope.Close();
    }
}
