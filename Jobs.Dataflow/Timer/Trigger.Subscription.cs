using System.Diagnostics;
using System.Threading.Tasks.Dataflow;

namespace Jobs.Dataflow;

/// <content>
/// One timer's view of the trigger, nested because the two share the trigger's lock: a fire is
/// counted for every timer atomically, and the lock never leaves the trigger.
/// </content>
public sealed partial class Trigger
{
    /// <summary>
    /// One timer's view of a trigger: the fires since that timer's last run that consumed fires,
    /// the time of the first of them, and the debounce window that run opened. Counters are guarded
    /// by the trigger's lock, so a fire is counted for every timer atomically.
    /// </summary>
    internal sealed class Subscription : IDisposable
    {
        private readonly Trigger _trigger;
        private readonly ITargetBlock<TimerWake> _runBlock;
        private IDisposable? _link;
        private ITimer? _window;
        private long _pending;
        private long _firstFire;
        private List<ActivityLink>? _links;
        private long _lastConsumed;
        private bool _consumedOnce;
        private bool _disposed;
        private bool _holding;

        public Subscription(Trigger trigger, ITargetBlock<TimerWake> runBlock)
        {
            _trigger = trigger;
            _runBlock = runBlock;
        }

        /// <summary>Gets the clock of the trigger's fires and latency.</summary>
        public TimeProvider TimeProvider => _trigger.TimeProvider;

        /// <summary>
        /// Gets a value indicating whether fires wait for a run that is not held back by the
        /// debounce window: the timer has work to do now, not when the window ends. Read by a test kit.
        /// </summary>
        public bool HasDueFires
        {
            get
            {
                lock (_trigger._gate)
                {
                    return _pending > 0 && !_holding && !_disposed;
                }
            }
        }

        /// <summary>Gets a value indicating whether fires wait for the debounce window to end. Read by a test kit.</summary>
        public bool IsHolding
        {
            get
            {
                lock (_trigger._gate)
                {
                    return _pending > 0 && _holding && !_disposed;
                }
            }
        }

        /// <summary>Counts one fire, and remembers the activity that made it; called under the trigger's lock.</summary>
        public void AddFireLocked(long timestamp, in ActivityContext caller)
        {
            if (_pending++ == 0)
            {
                _firstFire = timestamp;
            }

            AddLink(ref _links, caller);
        }

        /// <summary>Takes the fires made before the timer subscribed; called under the trigger's lock.</summary>
        public void AddBacklogLocked(long fires, long firstFire, List<ActivityLink>? links)
        {
            Debug.Assert(_pending == 0, "A subscription takes its backlog before any fire.");
            _pending = fires;
            _firstFire = firstFire;
            _links = links is null ? null : [.. links];
        }

        /// <summary>Links the run block to the trigger, so fires wake it; call once the runs can see this subscription.</summary>
        public void Connect()
        {
            IDisposable link = _trigger._broadcast.LinkTo(_runBlock);
            lock (_trigger._gate)
            {
                if (!_disposed)
                {
                    _link = link;
                    return;
                }
            }

            link.Dispose();
        }

        /// <summary>
        /// Takes the pending fires for a run that starts now. Returns the number of fires folded into
        /// the run (0: none pending, or held by the debounce window, which then wakes the run block
        /// again when it ends), the latency from the first of them, the time of the take on the
        /// trigger's clock (<paramref name="now"/>), and the links to the activities that made them.
        /// </summary>
        public int Take(out TimeSpan latency, out TimeSpan held, out long now, out List<ActivityLink>? links)
        {
            TimeProvider time = _trigger.TimeProvider;
            now = time.GetTimestamp();
            latency = TimeSpan.Zero;
            held = TimeSpan.Zero;
            links = null;
            lock (_trigger._gate)
            {
                if (_pending == 0 || _disposed)
                {
                    return 0;
                }

                if (_consumedOnce)
                {
                    // A clock that stepped back restarts the window from now, so the fire is held for
                    // at most one debounce: never for the size of the step (an hour back would hold
                    // it an hour, and a hundred days could not even be armed on a timer).
                    _lastConsumed = Math.Min(_lastConsumed, now);
                    held = Durations.NotNegative(_trigger.Debounce - time.GetElapsedTime(_lastConsumed, now));
                }

                // Held fires wait on time until the window ends; a test kit sees the timer at rest.
                _holding = held > TimeSpan.Zero;
                if (held == TimeSpan.Zero)
                {
                    int folds = (int)Math.Min(_pending, int.MaxValue);
                    latency = Durations.NotNegative(time.GetElapsedTime(_firstFire, now));
                    _pending = 0;
                    links = _links;
                    _links = null;
                    _lastConsumed = now;
                    _consumedOnce = true;
                    return folds;
                }
            }

            ArmWindow(held);
            return 0;
        }

        public void Dispose()
        {
            IDisposable? link;
            ITimer? window;
            lock (_trigger._gate)
            {
                _disposed = true;
                link = _link;
                window = _window;
                _link = null;
                _window = null;
                _trigger.RemoveLocked(this);
            }

            link?.Dispose();
            window?.Dispose();
        }

        /// <summary>
        /// Arms the debounce window to end after <paramref name="delay"/>. Called by <see cref="Take"/>,
        /// from the timer's run block, which runs one wake-up at a time: never concurrently with itself,
        /// only with <see cref="Dispose"/>.
        /// </summary>
        private void ArmWindow(TimeSpan delay)
        {
            // At least a millisecond: a platform timer truncates, so a window timer may wake a
            // fraction early, and one re-armed for less than a millisecond fires at once, over and
            // over, until the window ends. Longer waits stay exact.
            if (delay < Timers.MinInterval)
            {
                delay = Timers.MinInterval;
            }

            ITimer? window;
            lock (_trigger._gate)
            {
                if (_disposed)
                {
                    return;
                }

                window = _window;
            }

            if (window is not null)
            {
                window.Change(delay, Timeout.InfiniteTimeSpan);
                return;
            }

            // Created on first need, armed at creation: most timers have no debounce and never pay
            // for this timer, and whoever sees the timer made (a test on a fake clock) may advance
            // the clock at once, so the window must already count.
            ITimer created = _trigger.TimeProvider.CreateTimer(
                static state => ((Subscription)state!).OnWindowEnd(), this, delay, Timeout.InfiniteTimeSpan);
            lock (_trigger._gate)
            {
                if (!_disposed)
                {
                    _window = created;
                    return;
                }
            }

            created.Dispose();
        }

        // A post folded into a pending run is fine: that run has not started yet, so it will read
        // the counters after the window ended.
        private void OnWindowEnd()
        {
            lock (_trigger._gate)
            {
                _holding = false;
            }

            _runBlock.Post(TimerWake.WindowEnd);
        }
    }
}
