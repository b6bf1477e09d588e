import Synchronization
import CSpindle

/// A pool of worker threads for CPU-bound work: fork-join (`join`, `scope`, `install`,
/// `broadcast`) in the foreground tier, tasks (`spawn`, `submit`) in the background tier.
///
/// ```swift
/// import Spindle
///
/// let pool = try ThreadPool(threads: 4)
/// func sum(_ xs: ArraySlice<Int>) -> Int {
///     if xs.count < 2 { return xs.first ?? 0 }
///     let mid = xs.startIndex + xs.count / 2
///     let (l, r) = pool.join({ sum(xs[..<mid]) }, { sum(xs[mid...]) })
///     return l + r
/// }
/// ```
///
/// Every method may be called from any thread. A caller that is not one of the pool's workers
/// still does its own part of a `join`, `scope` or `install` on its own thread (no hand-off) and,
/// while it waits for pieces other threads took, helps only with work of its own call.
///
/// Dropping the last reference to a pool you created shuts it down (see `shutdown()`).
public final class ThreadPool: @unchecked Sendable {  // immutable after init; the registry synchronises itself
    let registry: Registry
    /// The registry's address: compared with the current participant's on every join.
    @usableFromInline let registryID: ObjectIdentifier
    /// The configuration the pool was built with.
    public let configuration: Configuration

    /// A pool of `threads` workers with default settings.
    ///
    /// ```swift
    /// let pool = try ThreadPool(threads: 4)
    /// ```
    /// - Throws: `ThreadPoolError.invalidThreadCount` when `threads < 1`.
    public convenience init(threads: Int) throws(ThreadPoolError) {
        try self.init(configuration: Configuration(threads: threads))
    }

    /// A pool built from `configuration`; nothing is started when a field is invalid.
    ///
    /// ```swift
    /// let pool = try ThreadPool(configuration: .init(threads: 4, maxPending: 10_000))
    /// ```
    public convenience init(configuration: Configuration) throws(ThreadPoolError) {
        try self.init(configuration: configuration, isPerpetual: false)
    }

    /// Whether this is `ThreadPool.shared`, which refuses `shutdown` and `resize`: other code in
    /// the process relies on it (as swift-nio's singletons refuse to shut down).
    let isPerpetual: Bool

    init(configuration: Configuration, isPerpetual: Bool) throws(ThreadPoolError) {
        try configuration.validate()
        self.configuration = configuration
        self.isPerpetual = isPerpetual
        registry = Registry(configuration: configuration)
        registryID = registry.identity
        registry.pool = self
        // SAFETY: the registry uses it only to run Swift jobs that were enqueued on this pool, and
        // a task that prefers the pool keeps it alive (the runtime retains the preferred executor)
        // while it has jobs; unowned on purpose: no retain cycle.
        unsafe registry.taskExecutor = UnownedTaskExecutor(ordinary: self)
        try registry.start()
    }

    deinit {
        registry.shutdown()
    }

    /// Number of worker threads (as last set by `resize(threads:)`).
    public var threadCount: Int { registry.workerCount }

    /// The most workers `resize(threads:)` accepts: four times the larger of the initial thread
    /// count and the usable core count (worker slots are reserved when the pool is created).
    public var maxThreadCount: Int { registry.maxWorkers }

    /// Grows or shrinks the pool to `threads` workers while it runs.
    ///
    /// ```swift
    /// let pool = try ThreadPool(threads: 2)
    /// try pool.resize(threads: 8)    // a burst of work is coming
    /// try pool.resize(threads: 2)    // back to normal
    /// ```
    /// Nothing queued is lost or run twice: a retiring worker finishes the job it is running,
    /// runs the broadcast parts addressed to it, and hands everything else on its queues to the
    /// remaining workers. New workers start at once. Returns when the change is done (from
    /// outside the pool: once retired threads have exited).
    /// - Throws: `ThreadPoolError.invalidThreadCount` when `threads` is below 1 or above
    ///   `maxThreadCount`; `.shutDown` after shutdown; `.threadCreationFailed` if the system
    ///   refuses a thread (the pool then keeps the workers it could start);
    ///   `.sharedPoolIsPerpetual` on `ThreadPool.shared`.
    ///
    /// Callable from a job on the pool, even from a worker that the call itself retires: a grow
    /// that follows a shrink puts a worker still on its way out back to work instead of waiting
    /// for it.
    public func resize(threads: Int) throws(ThreadPoolError) {
        guard !isPerpetual else { throw .sharedPoolIsPerpetual }
        try registry.resize(to: threads)
    }

    /// The index (`0..<threadCount`) of the current thread if it is one of this pool's workers.
    ///
    /// ```swift
    /// pool.install { print(pool.currentThreadIndex as Any) }  // nil from an outside caller
    /// ```
    public var currentThreadIndex: Int? {
        guard let me = Participant.current(in: registryID), me.pointee.isWorker else { return nil }
        return me.pointee.index
    }

    /// The index of the current thread among the workers of whichever pool it belongs to.
    public static var currentThreadIndex: Int? {
        guard let me = Participant.current, me.pointee.isWorker else { return nil }
        return me.pointee.index
    }

    /// Whether `shutdown()` was called (or the last reference dropped).
    public var isShutDown: Bool { registry.isShutDown }

    /// Stops accepting background work, lets the workers run everything already queued, and
    /// waits for them to exit. `join`, `scope` and `install` keep working afterwards: their
    /// callers then do all the work on their own thread.
    ///
    /// ```swift
    /// try pool.spawn { flushCaches() }
    /// pool.shutdown()   // flushCaches() has run
    /// ```
    /// What each call guarantees when it returns:
    /// - **From outside the pool** (any thread that is not running the pool's work), first or
    ///   later call alike: admission is closed, every job queued before the first call has run,
    ///   every worker thread has exited and been joined, and the heartbeat thread has stopped.
    /// - **From inside the pool** (a job, a `join`/`scope`/`install` caller, a worker): only that
    ///   admission is closed and the workers were woken. Waiting there could deadlock (a worker
    ///   may be waiting for the caller), so it returns at once; the workers run everything
    ///   queued and exit on their own, and the last one to leave completes the shutdown (or a
    ///   later call from outside waits for it, as above).
    ///
    /// Dropping the last reference to the pool calls this (from `deinit`, with the same rules).
    /// - Precondition: the pool is not `ThreadPool.shared`, which is never shut down.
    @available(*, noasync, message: "shutdown() blocks its thread until the workers exit; in async code use `await pool.shutdown()`")
    public func shutdown() {
        precondition(!isPerpetual, Self.perpetualMessage("shutdown()"))
        registry.shutdown()
    }

    static func perpetualMessage(_ call: String) -> String {
        "ThreadPool.shared is perpetual: \(call) is not allowed on it (other code in the process uses it). Create a ThreadPool of your own to control its lifetime."
    }

    // MARK: Internals used by inlinable code

    /// The one "run as a participant" entry (rayon-core's `in_worker`): runs `body` with the
    /// current thread's participant in this pool, which it already is (a worker, or an outside
    /// caller inside a call), or becomes for the duration of `body` (a temporary outside
    /// participant, which takes part in its own call's work on its own thread: no hand-off).
    @inlinable
    func _withParticipant<R, E: Error>(_ body: (LivePointer<Participant>) throws(E) -> R) throws(E) -> R {
        if let me = Participant.current(in: registryID) { return try body(me) }
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try body(entry.participant)
    }

    /// Makes the calling thread a temporary participant (for `_withParticipant` only).
    @usableFromInline
    func _enterAsOutsider() -> ExternalParticipant {
        registry.enterExternal()
    }

    @usableFromInline
    func _exitAsOutsider(_ entry: ExternalParticipant) {
        registry.exitExternal(entry)
    }
}
