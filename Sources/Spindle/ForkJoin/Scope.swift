import Synchronization

/// A fork-join scope: work spawned into it may run in parallel, and `ThreadPool.scope` returns
/// only when all of it has finished.
///
/// ```swift
/// let results = Mutex([Int]())
/// pool.scope { s in
///     for i in 0..<100 {
///         s.spawn { let r = expensive(i); results.withLock { $0.append(r) } }
///     }
/// }
/// // all 100 spawned closures have run here
/// ```
///
/// Spawned work is foreground work: it runs before any background task. A spawned closure may
/// spawn more work into the same scope. `Failure` is the error spawned closures may throw
/// (`Never` when none do).
public final class Scope<Failure: Error>: @unchecked Sendable {  // state: a count latch (atomic) and `firstError` under `errorLock`
    let registry: Registry
    let family: Int
    let latch: CountLatch
    private let errorLock = FutexLock()
    private var firstError: Failure?
    private let isFinished = Atomic<Bool>(false)

    init(registry: Registry, family: Int, ownerParker: Parker) {
        self.registry = registry
        self.family = family
        latch = CountLatch(ownerParker: ownerParker)
    }

    /// Spawns `work` into the scope. It may run on any worker (or on the thread that opened the
    /// scope, while it waits); the scope does not end before it has run.
    ///
    /// ```swift
    /// pool.scope { s in
    ///     s.spawn { left.sort() }
    ///     s.spawn { right.sort() }
    /// }
    /// ```
    /// - Precondition: the scope has not returned yet.
    public func spawn(_ work: @escaping @Sendable () throws(Failure) -> Void) {
        precondition(!isFinished.load(ordering: .relaxed),
                     "Scope.spawn called after its scope returned")  // a diagnostic, orders nothing
        latch.increment()
        registry.pushForeground(ScopeJob(scope: self, work: work))
    }

    func record(_ error: Failure) {
        errorLock.withLock {
            if firstError == nil { firstError = error }
        }
    }

    func finish() throws(Failure) {
        isFinished.store(true, ordering: .relaxed)
        let error = errorLock.withLock { firstError }
        if let error { throw error }
    }
}

/// One spawned closure of a scope.
final class ScopeJob<Failure: Error>: HeapJob, @unchecked Sendable {  // immutable
    let scope: Scope<Failure>
    let work: @Sendable () throws(Failure) -> Void

    init(scope: Scope<Failure>, work: @escaping @Sendable () throws(Failure) -> Void) {
        self.scope = scope
        self.work = work
        super.init(family: scope.family, isBackground: false)
    }

    override func execute() {
        do {
            try work()
        } catch {
            scope.record(error)
        }
        scope.latch.decrement()
    }

    override func abandon() {
        scope.latch.decrement()
    }
}

extension ThreadPool {
    /// Opens a scope, runs `body` on the calling thread, and returns once `body` and all work
    /// spawned into the scope have finished.
    ///
    /// ```swift
    /// var left = Array(data[..<mid]), right = Array(data[mid...])
    /// try pool.scope { s in
    ///     s.spawn { try validate(left) }
    ///     s.spawn { try validate(right) }
    /// }
    /// ```
    ///
    /// While waiting, the caller runs spawned work itself (only work of this scope's call).
    /// - Throws: the error of `body`, else the first error thrown by spawned work, after all
    ///   spawned work has finished.
    public func scope<R, E: Error>(_ body: (Scope<E>) throws(E) -> R) throws(E) -> R {
        if let me = Participant.current(in: registryID) {
            return try runScope(on: me, body)
        }
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try runScope(on: entry.participant, body)
    }

    private func runScope<R, E: Error>(on me: UnsafeMutablePointer<Participant>,
                                       _ body: (Scope<E>) throws(E) -> R) throws(E) -> R {
        let scope = Scope<E>(registry: registry, family: me.pointee.family, ownerParker: me.pointee.parker)
        let result = Result(catching: { () throws(E) -> R in try body(scope) })
        scope.latch.decrement()  // the owner's token
        registry.wait(for: scope.latch, on: me)
        let value = try result.get()
        try scope.finish()
        return value
    }
}
