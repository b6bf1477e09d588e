import CSpindle

extension ThreadPool {
    /// How a pool is built. Every field has a sensible default.
    ///
    /// ```swift
    /// var configuration = ThreadPool.Configuration(threads: 4)
    /// configuration.heartbeatInterval = .microseconds(50)
    /// configuration.pinning = .cores
    /// let pool = try ThreadPool(configuration: configuration)
    /// ```
    public struct Configuration: Sendable, Equatable {
        /// Where worker threads may run.
        public enum Pinning: Sendable, Equatable {
            /// The scheduler places threads (default).
            case none
            /// Worker `i` is pinned to the `i`-th CPU of the process's affinity mask (Linux only;
            /// ignored on Apple platforms, which offer no hard affinity).
            case cores
        }

        /// Number of worker threads, at least 1. Callers of `join`, `scope` and `install` that are
        /// not workers also take part in their own calls, on their own thread.
        public var threads: Int
        /// Worker threads are named `"\(threadNamePrefix)\(index)"` (visible in debuggers, `top -H`).
        /// Where the platform limits names (15 bytes on Linux), the prefix is shortened so that
        /// the index always survives.
        public var threadNamePrefix: String
        /// How often pending join work is made stealable. Shorter: faster spreading of work,
        /// more promotions; longer: lower overhead. Must be positive.
        public var heartbeatInterval: Duration
        /// How many rounds an idle thread searches for work before it parks. Spinning shortens the
        /// hand-off (about 130 ns against about 50 µs to wake a parked thread) at the price of CPU.
        public var spinBeforeSleep: Int
        /// Optional core pinning.
        public var pinning: Pinning
        /// Worker stack size in bytes; `nil` for the platform default. Deep recursion through
        /// `join` runs on these stacks.
        public var stackSize: Int?
        /// Upper bound on background jobs accepted but not yet started; `nil` for no bound.
        public var maxPending: Int?
        /// Records job starts and ends, steals, heartbeat promotions and park/unpark per thread,
        /// for `ThreadPool.chromeTrace()` (a Chrome/Perfetto trace). Off by default; when off,
        /// the join fast path has no trace code at all, and slow paths one predictable branch.
        public var tracing: Bool
        /// How long a background task may run; `nil` (the default) for no limit. Each `spawn` and
        /// `submit` may set its own instead (`timeout:`).
        ///
        /// - An **async** task (`submit { await … }`, `spawn`, a task scope's `spawn`) still running
        ///   this long after it started is cancelled (Swift task cancellation: `Task.isCancelled`,
        ///   `Task.sleep` throws), and its handle reports ``ThreadPoolError/taskTimedOut(after:)``
        ///   once the body has returned, whatever it returned.
        /// - A **synchronous** task cannot be stopped from outside: it runs to its end and its
        ///   handle gets its real outcome; it is only *reported*, in
        ///   ``ThreadPool/Metrics/timedOutTasks``.
        ///
        /// Time spent waiting in the queue does not count (`maxPending` bounds that).
        /// ```swift
        /// var configuration = ThreadPool.Configuration(threads: 4, maxPending: 10_000)
        /// configuration.taskTimeout = .seconds(30)
        /// ```
        public var taskTimeout: Duration? = nil

        /// Code each worker thread runs on itself as it starts serving the pool and as it stops:
        /// thread-local set-up, profiler registration, thread names of your own. `nil` (the
        /// default) for none.
        ///
        /// ```swift
        /// var configuration = ThreadPool.Configuration(threads: 4)
        /// configuration.threadHooks = ThreadPool.ThreadHooks(
        ///     onStart: { index in print("worker \(index) up") },
        ///     onExit: { index in print("worker \(index) down") })
        /// ```
        public var threadHooks: ThreadHooks? = nil

        /// Keeps the number of workers at the usable CPU count (``ThreadPool/usableCoreCount``:
        /// the affinity mask and the cgroup v2 `cpu.max` quotas of the process's cgroup and its
        /// ancestors) as it changes at run time, re-read every second: for services in
        /// containers whose CPU limit is raised or lowered while they run. Off by default.
        ///
        /// The pool starts with `threads` workers; each time the limit read differs from the
        /// previous read, the pool resizes to it (between 1 and ``ThreadPool/maxThreadCount``),
        /// as ``ThreadPool/resize(threads:)`` would, so nothing queued is lost. A `resize` of your
        /// own holds until the limit next changes. Ignored by ``ThreadPool/shared``, which is
        /// perpetual.
        ///
        /// ```swift
        /// var configuration = ThreadPool.Configuration()
        /// configuration.followCPULimit = true
        /// let pool = try ThreadPool(configuration: configuration)
        /// ```
        public var followCPULimit = false

        /// The most spare workers ``ThreadPool/blocking(_:)`` sections may lend at once; `nil`
        /// (the default) for as many as `threads`, so that every worker may block and the pool
        /// still has `threads` workers running. `0` turns the compensation off.
        public var maxSpareThreads: Int? = nil

        /// How long a spare worker that no blocking section needs any more waits for work
        /// before it goes away. Must be positive.
        public var spareThreadIdleTimeout: Duration = .seconds(1)

        /// Where `followCPULimit` and `usableCoreCount` read the limit (tests point it at a fake
        /// cgroup tree).
        var cpuLimit = CPULimit.system
        /// How often `followCPULimit` re-reads the limit.
        var cpuLimitCheckInterval: Duration = .seconds(1)

        /// A configuration with `threads` workers and defaults for everything else.
        public init(
            threads: Int = ThreadPool.usableCoreCount,
            threadNamePrefix: String = "spindle-",
            heartbeatInterval: Duration = .microseconds(100),
            spinBeforeSleep: Int = 2_000,
            pinning: Pinning = .none,
            stackSize: Int? = nil,
            maxPending: Int? = nil,
            tracing: Bool = false
        ) {
            self.threads = threads
            self.threadNamePrefix = threadNamePrefix
            self.heartbeatInterval = heartbeatInterval
            self.spinBeforeSleep = spinBeforeSleep
            self.pinning = pinning
            self.stackSize = stackSize
            self.maxPending = maxPending
            self.tracing = tracing
        }

        /// For CPU-bound work: one worker per usable core, and at most 1,024 background tasks per
        /// worker waiting to start (enough to keep every worker fed, small enough that a flood of
        /// submissions meets `.saturated` or the async backpressure instead of exhausting memory).
        ///
        /// ```swift
        /// let pool = try ThreadPool(configuration: .cpuBound)
        /// ```
        public static var cpuBound: Configuration {
            let cores = ThreadPool.usableCoreCount
            return Configuration(threads: cores, maxPending: 1_024 * cores)
        }

        /// For work that also blocks (file reads, synchronous calls): two workers per usable core,
        /// so that a blocked worker leaves the core to another, and at most 256 waiting background
        /// tasks per worker.
        ///
        /// ```swift
        /// let ioPool = try ThreadPool(configuration: .ioBound)
        /// ```
        public static var ioBound: Configuration {
            let threads = 2 * ThreadPool.usableCoreCount
            return Configuration(threads: threads, threadNamePrefix: "spindle-io-", maxPending: 256 * threads)
        }

        /// Checks every field; the pool starts nothing when this throws.
        func validate() throws(ThreadPoolError) {
            guard threads >= 1 else { throw .invalidThreadCount(threads) }
            guard heartbeatInterval > .zero else { throw .invalidHeartbeatInterval(heartbeatInterval) }
            if let size = stackSize {
                let minimum = Int(spindle_min_stack_size())
                guard size >= minimum else { throw .invalidStackSize(requested: size, minimum: minimum) }
            }
            if let max = maxPending, max < 1 { throw .invalidMaxPending(max) }
            if let timeout = taskTimeout, timeout <= .zero { throw .invalidTaskTimeout(timeout) }
            if let spares = maxSpareThreads, spares < 0 { throw .invalidMaxSpareThreads(spares) }
            guard spareThreadIdleTimeout > .zero else { throw .invalidSpareThreadIdleTimeout(spareThreadIdleTimeout) }
        }

        var spareIdleNanoseconds: Int64 {
            let (seconds, attoseconds) = spareThreadIdleTimeout.components
            return max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }

        var cpuLimitCheckNanoseconds: Int64 {
            let (seconds, attoseconds) = cpuLimitCheckInterval.components
            return max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }

        var heartbeatNanoseconds: Int64 {
            let (seconds, attoseconds) = heartbeatInterval.components
            return max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }

    /// Code run by each worker thread, on that thread, around its service of the pool
    /// (``Configuration/threadHooks``).
    ///
    /// - `onStart(index)` runs before the worker takes its first job; `onExit(index)` after its
    ///   last, before `shutdown()` (or a pool's `deinit`) counts it as gone, so every `onExit`
    ///   has returned when `shutdown()` returns. `index` is the worker's index, `0..<threads`.
    /// - A worker of ``ThreadPool/shared`` that retires when idle runs `onExit`, and its
    ///   successor on the same index `onStart` (possibly before the first `onExit` has returned).
    ///   A retirement called off at the last moment runs `onStart` again on the same thread.
    /// - The hooks run as worker code: they may call the pool (`join`, parallel loops), but must
    ///   not wait for background work, which would then have a worker fewer.
    ///
    /// Two configurations are equal only if they hold the same `ThreadHooks` value (each
    /// `init` makes a new one).
    public struct ThreadHooks: Sendable, Equatable {
        /// Identity for `==`: closures cannot be compared.
        private final class Identity: Sendable {}
        private let identity = Identity()
        /// Runs on each worker thread as it starts serving the pool.
        public let onStart: @Sendable (_ workerIndex: Int) -> Void
        /// Runs on each worker thread as it stops serving the pool.
        public let onExit: @Sendable (_ workerIndex: Int) -> Void

        /// Hooks with either part optional.
        public init(
            onStart: @escaping @Sendable (_ workerIndex: Int) -> Void = { _ in },
            onExit: @escaping @Sendable (_ workerIndex: Int) -> Void = { _ in }
        ) {
            self.onStart = onStart
            self.onExit = onExit
        }

        public static func == (lhs: ThreadHooks, rhs: ThreadHooks) -> Bool { lhs.identity === rhs.identity }
    }

    /// The CPUs this process may use: its affinity mask, capped by the cgroup v2 `cpu.max` quotas
    /// of its cgroup and of every ancestor (the tightest wins, rounded up to whole CPUs). Not the
    /// machine's configured CPU count, which ignores both.
    public static var usableCoreCount: Int { CPULimit.system.usableCores() }
}
