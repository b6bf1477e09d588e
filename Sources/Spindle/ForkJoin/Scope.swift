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
public final class Scope<Failure: Error>: @unchecked Sendable {  // a latch (atomic), `firstError` under `errorLock`, owner-only credits
    let registry: Registry
    let family: Int
    @usableFromInline let latch: CountLatch
    private let errorLock = FutexLock()
    private var firstError: Failure?
    private let isFinished = Atomic<Bool>(false)

    @usableFromInline
    var _family: Int { family }

    /// The participant that opened the scope; while it runs the body it takes latch counts in
    /// batches (`ownerCredits`), so its spawns do not each touch the shared latch.
    @usableFromInline let owner: LivePointer<Participant>
    /// Owner-only while `ownerInBody`.
    @exclusivity(unchecked) @usableFromInline var ownerCredits = 0
    @exclusivity(unchecked) @usableFromInline var ownerInBody = true

    init(registry: Registry, family: Int, owner: LivePointer<Participant>) {
        self.registry = registry
        self.family = family
        self.owner = owner
        latch = CountLatch(ownerParker: owner.pointee.parker)
    }

    /// Ends the owner's body: gives back unused credits and the owner's own token.
    func endBody() {
        // SAFETY: `ownerInBody`/`ownerCredits` are touched only by the owner while it runs the body (`@exclusivity(unchecked)`: no other thread reads them).
        unsafe ownerInBody = false
        unsafe latch.decrement(by: ownerCredits + 1)
        unsafe ownerCredits = 0
    }

    /// Spawns `work` into the scope. It may run on any worker (or on the thread that opened the
    /// scope, while it waits); the scope does not end before it has run.
    ///
    /// ```swift
    /// let left = Array(data[..<mid]), right = Array(data[mid...])   // spawned closures are
    /// pool.scope { s in                                             // @Sendable: they capture
    ///     s.spawn { index(left) }                                   // values, not `var`s
    ///     s.spawn { index(right) }
    /// }
    /// ```
    /// - Precondition: the scope has not returned yet.
    @inlinable
    public func spawn(_ work: @escaping @Sendable () throws(Failure) -> Void) {
        if let me = Participant.current(in: _registryID) {
            _admitSpawn(from: me)
            // A throwing closure gets a wrapper that records its error.
            _pushRecord(
                work: { [self] in
                    do throws(Failure) { try work() } catch { self.record(error) }
                }, on: me)
        } else {
            _admitSpawn(from: nil)
            _pushHeapJob(ScopeJob(scope: self, work: work))
        }
    }

    /// Counts a new spawn in the latch. The owner, inside its body, takes counts 64 at a time:
    /// it holds its own token until `endBody()`, which returns what it did not use, so the count
    /// cannot reach zero early.
    @inlinable
    func _admitSpawn(from me: LivePointer<Participant>?) {
        // SAFETY: the owner-only fields are read only when `me` is the owner (or after its body, when they no longer change).
        if unsafe me == owner && ownerInBody {
            if unsafe ownerCredits == 0 {
                _checkOpen()
                latch.increment(by: 64)
                unsafe ownerCredits = 64
            }
            unsafe ownerCredits &-= 1
        } else {
            _checkOpen()
            latch.increment(by: 1)
        }
    }

    @usableFromInline
    func _checkOpen() {
        precondition(
            !isFinished.load(ordering: .relaxed),
            "Scope.spawn called after its scope returned")  // a diagnostic, orders nothing
    }

    @usableFromInline
    var _registryID: ObjectIdentifier { registry.identity }

    /// Stores `work` in a record of the participant's slab (no allocation) and pushes it.
    @inlinable
    func _pushRecord(work: @escaping @Sendable () -> Void, on me: LivePointer<Participant>) {
        // SAFETY: the slot is a fresh, unused slot of the owner's slab (bump allocation), initialised here and consumed once by `SpawnRecord.run`.
        let (slot, slab) = unsafe me.pointee.nextSpawnSlot()
        let record = unsafe slot.bindMemory(to: SpawnRecord.self, capacity: 1)
        unsafe record.initialize(
            to: SpawnRecord(
                work: work, latch: Unmanaged.passUnretained(latch),
                family: _family, slab: slab))
        unsafe _pushRecord(JobRef(spawnRecord: slot), on: me)
    }

    @usableFromInline
    func _pushRecord(_ job: JobRef, on me: LivePointer<Participant>) {
        registry.pushSpawnRecord(job, on: me)
    }

    @usableFromInline
    func _pushHeapJob(_ job: HeapJob) {
        registry.pushForeground(job)
    }

    @usableFromInline
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

extension Scope where Failure == Never {
    /// Spawns `work` into the scope. It may run on any worker (or on the thread that opened the
    /// scope, while it waits); the scope does not end before it has run.
    ///
    /// ```swift
    /// let left = Array(data[..<mid]), right = Array(data[mid...])   // spawned closures are
    /// pool.scope { s in                                             // @Sendable: they capture
    ///     s.spawn { index(left) }                                   // values, not `var`s
    ///     s.spawn { index(right) }
    /// }
    /// ```
    /// From a participant of the pool, a spawn allocates nothing: the closure is stored in a
    /// record of the participant's slab.
    /// - Precondition: the scope has not returned yet.
    @inlinable
    public func spawn(_ work: @escaping @Sendable () -> Void) {
        if let me = Participant.current(in: _registryID) {
            _admitSpawn(from: me)
            _pushRecord(work: work, on: me)
        } else {
            _admitSpawn(from: nil)
            _pushHeapJob(ScopeJob(scope: self, work: work))
        }
    }
}

/// One spawned closure of a scope.
@usableFromInline
final class ScopeJob<Failure: Error>: HeapJob, @unchecked Sendable {  // `work` is cleared by `execute`, which runs once, on one thread
    @usableFromInline let scope: Scope<Failure>
    @usableFromInline var work: (@Sendable () throws(Failure) -> Void)?

    @inlinable
    init(scope: Scope<Failure>, work: @escaping @Sendable () throws(Failure) -> Void) {
        self.scope = scope
        self.work = work
        super.init(family: scope._family, isBackground: false)
    }

    @inlinable
    override func execute() {
        do {
            // Taken out of the job, so that the closure and its captures are released at the end
            // of this block, before the decrement lets `scope` return (the job object itself is
            // released later, by the thread that ran it).
            let body = work!
            work = nil
            try body()
        } catch {
            scope.record(error)
        }
        scope.latch.decrement()
    }

}

extension ThreadPool {
    /// Opens a scope, runs `body` on the calling thread, and returns once `body` and all work
    /// spawned into the scope have finished.
    ///
    /// ```swift
    /// let left = Array(data[..<mid]), right = Array(data[mid...])
    /// try pool.scope { (s: Scope<ValidationError>) throws(ValidationError) in
    ///     s.spawn { () throws(ValidationError) in try validate(left) }
    ///     s.spawn { () throws(ValidationError) in try validate(right) }
    /// }
    /// ```
    ///
    /// While waiting, the caller runs spawned work itself (only work of this scope's call).
    /// - Throws: the error of `body`, else the first error thrown by spawned work, after all
    ///   spawned work has finished.
    public func scope<R, E: Error>(_ body: (Scope<E>) throws(E) -> R) throws(E) -> R {
        try _withParticipant { (me) throws(E) in try runScope(on: me, body) }
    }

    private func runScope<R, E: Error>(
        on me: LivePointer<Participant>,
        _ body: (Scope<E>) throws(E) -> R
    ) throws(E) -> R {
        let scope = Scope<E>(registry: registry, family: me.pointee.family, owner: me)
        let result = Result(catching: { () throws(E) -> R in try body(scope) })
        scope.endBody()  // the owner's token and unused credits
        registry.wait(for: scope.latch, on: me)
        let value = try result.get()
        try scope.finish()
        return value
    }
}

/// `scope` on the pool of the current worker, or on `ThreadPool.shared` from any other thread.
///
/// ```swift
/// import Spindle
/// let results = Results()
/// Spindle.scope { (s: Scope<Never>) in
///     for file in files { s.spawn { results.add(checksum(file)) } }
/// }
/// ```
/// - Throws: as ``ThreadPool/scope(_:)``.
public func scope<R, E: Error>(_ body: (Scope<E>) throws(E) -> R) throws(E) -> R {
    try ThreadPool.currentOrShared.scope(body)
}
