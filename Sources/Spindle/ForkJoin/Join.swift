import CSpindle
import Synchronization

extension ThreadPool {
    /// Runs `a` and `b`, potentially in parallel, and returns both results.
    ///
    /// `a` runs on the calling thread. `b` is only *offered* to other threads: it stays private to
    /// the caller (a few plain stores, no allocation, no atomic read-modify-write) until a heartbeat
    /// makes it stealable; if nobody took it by the time `a` returns, the caller runs it directly.
    /// That makes `join` cheap enough to use at every level of a recursion, without a sequential
    /// cutoff.
    ///
    /// ```swift
    /// func fib(_ n: Int) -> Int {
    ///     if n < 2 { return n }
    ///     let (x, y) = pool.join({ fib(n - 1) }, { fib(n - 2) })
    ///     return x + y
    /// }
    /// ```
    ///
    /// Callable from any thread. From outside the pool, the caller joins as a temporary
    /// participant: it runs its own work and, while waiting for a stolen `b`, helps only with work
    /// of this call.
    ///
    /// - Throws: the error of `a` or `b` (of `a` if both throw), after both have finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B
    ) throws(E) -> (A, B) {
        if let me = Participant.current(in: registryID) {
            return try ThreadPool._join(on: me, a, b)
        }
        return try _joinAsOutsider(a, b)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B
    ) throws(E) -> (A, B) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try ThreadPool._join(on: entry.participant, a, b)
    }

    /// The join proper, on participant `me` (the current thread's).
    ///
    /// Fast path: check the heartbeat flag, see that this join is not to be offered, run `a`,
    /// run `b`. No allocation, no atomic read-modify-write, no reference counting; the only
    /// memory written is the participant's join depth.
    ///
    /// Only the outermost pending joins are *offered* (linked into the pending list, so a
    /// heartbeat can promote them): Swift can keep a non-escaping closure for another thread only
    /// through `withoutActuallyEscaping`, which allocates. The outermost joins hold the largest
    /// pieces of work, which are the ones a heartbeat promotes anyway (see
    /// `Participant.offerDepthLimit`); joins nested below them run inline.
    @inlinable
    @inline(__always)
    static func _join<A, B: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B
    ) throws(E) -> (A, B) {
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            _promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
            let resultA = Result(catching: a)
            let resultB = Result(catching: b)
            me.pointee.joinDepth = depth
            return (try resultA.get(), try resultB.get())
        }
        return try _joinOffering(on: me, depth: depth, a, b)
    }

    /// A join whose second closure is offered: linked into the pending list as a `StackJob`
    /// until `a` returns, so that a heartbeat may promote it for a thief.
    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>,
        depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B
    ) throws(E) -> (A, B) {
        try withoutActuallyEscaping(b) { (escapingB) throws(E) -> (A, B) in
            // `withUnsafePointer` borrows the closure: a thief reads it through the pointer.
            try withUnsafePointer(to: escapingB) { (body) throws(E) -> (A, B) in
                var context = _JoinContext<B, E>(body: body)
                return try withUnsafeMutablePointer(to: &context) { (contextPointer) throws(E) -> (A, B) in
                    let resultA: Result<A, E> = withUnsafeTemporaryAllocation(of: StackJob.self, capacity: 1) { buffer in
                        let job = buffer.baseAddress.unsafelyUnwrapped
                        job.initialize(to: StackJob(context: UnsafeMutableRawPointer(contextPointer),
                                                    runner: _JoinContext<B, E>.self,
                                                    family: me.pointee.family, owner: me, depth: depth))
                        me.pointee.pushPending(job)
                        me.pointee.joinDepth = depth &+ 1
                        let resultA = Result(catching: a)
                        if me.pointee.popPending(job) || _reclaimPromotedJob(job, on: me) {
                            contextPointer.pointee.result = Result(catching: b)
                        }
                        me.pointee.joinDepth = depth
                        // Otherwise a thief ran `b`; its releasing exchange on `done`, read
                        // acquiring in `_reclaimPromotedJob`, published `context.result`.
                        job.deinitialize(count: 1)
                        return resultA
                    }
                    return (try resultA.get(), try contextPointer.pointee.result.unsafelyUnwrapped.get())
                }
            }
        }
    }

    /// A join whose second closure is *published* at once: pushed onto the caller's deque, where
    /// thieves may take it, instead of waiting in the pending list for a heartbeat.
    ///
    /// Only for callers that already answered a heartbeat: a parallel loop that saw its flag
    /// splits its remaining range this way, so the split is stealable on this very beat. Costs
    /// what a promoted join costs (a closure context allocation, a deque push, a wake-up), which
    /// the heartbeat bounds to one per interval.
    @inlinable
    @inline(never)
    static func _joinPublished<A, B: Sendable>(
        on me: UnsafeMutablePointer<Participant>,
        _ a: () -> A,
        _ b: @Sendable () -> B
    ) -> (A, B) {
        withoutActuallyEscaping(b) { (escapingB) -> (A, B) in
            withUnsafePointer(to: escapingB) { (body) -> (A, B) in
                var context = _JoinContext<B, Never>(body: body)
                return withUnsafeMutablePointer(to: &context) { (contextPointer) -> (A, B) in
                    let depth = me.pointee.joinDepth
                    let resultA: A = withUnsafeTemporaryAllocation(of: StackJob.self, capacity: 1) { buffer in
                        let job = buffer.baseAddress.unsafelyUnwrapped
                        job.initialize(to: StackJob(context: UnsafeMutableRawPointer(contextPointer),
                                                    runner: _JoinContext<B, Never>.self,
                                                    family: me.pointee.family, owner: me, depth: depth))
                        job.pointee.isPromoted = true
                        _publishJob(job, on: me)
                        me.pointee.joinDepth = depth &+ 1
                        let resultA = a()
                        if _reclaimPromotedJob(job, on: me) {
                            contextPointer.pointee.result = .success(b())
                        }
                        me.pointee.joinDepth = depth
                        // Otherwise a thief ran `b`; its releasing exchange on `done`, read
                        // acquiring in `_reclaimPromotedJob`, published `context.result`.
                        job.deinitialize(count: 1)
                        return resultA
                    }
                    return (resultA, contextPointer.pointee.result.unsafelyUnwrapped.get())
                }
            }
        }
    }

    @usableFromInline
    @inline(never)
    static func _publishJob(_ job: UnsafeMutablePointer<StackJob>, on me: UnsafeMutablePointer<Participant>) {
        me.pointee.registry.takeUnretainedValue().publishJob(job, on: me)
    }

    @usableFromInline
    @inline(never)
    static func _promotePendingJob(on me: UnsafeMutablePointer<Participant>) {
        me.pointee.registry.takeUnretainedValue().promotePendingJob(on: me)
    }

    @usableFromInline
    @inline(never)
    static func _reclaimPromotedJob(_ job: UnsafeMutablePointer<StackJob>, on me: UnsafeMutablePointer<Participant>) -> Bool {
        me.pointee.registry.takeUnretainedValue().reclaimPromotedJob(job, on: me)
    }
}

/// `join` on the pool of the current worker, or on `ThreadPool.shared` from any other thread.
///
/// ```swift
/// import Spindle
/// let (evens, odds) = Spindle.join({ data.filter { $0 % 2 == 0 } }, { data.filter { $0 % 2 == 1 } })
/// ```
@inlinable
@inline(__always)
public func join<A, B: Sendable, E: Error>(
    _ a: () throws(E) -> A,
    _ b: @Sendable () throws(E) -> B
) throws(E) -> (A, B) {
    if let me = Participant.current {
        return try ThreadPool._join(on: me, a, b)
    }
    return try ThreadPool.shared.join(a, b)
}
