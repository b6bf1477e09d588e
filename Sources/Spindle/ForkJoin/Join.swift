import CSpindle
import Synchronization

extension ThreadPool {
    /// Runs `a` and `b`, potentially in parallel, and returns both results.
    ///
    /// `a` runs on the calling thread. Only the outermost joins of a call offer `b` to other
    /// threads: those few (the offer window, four deep) push it onto the caller's deque at once,
    /// which costs a closure-context allocation, a push and a fence; the joins nested below them
    /// cost a comparison and a depth update, with no allocation and no atomic read-modify-write,
    /// and run `b` inline. At a heartbeat, offered jobs that thieves have taken leave the window,
    /// so the next joins below the ones this thread still runs itself are offered. If nobody took
    /// `b` by the time `a` returns, the caller runs it directly. That makes `join` cheap enough to use at
    /// every level of a recursion, without a sequential cutoff, while a join of two plain
    /// functions still runs in parallel when a thread is idle.
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
    /// `b` is `sending` rather than `@Sendable` (SE-0430): it may capture values that are not
    /// `Sendable`, as long as `a` does not touch them and the caller does not use them after the
    /// call; the compiler checks both.
    ///
    /// ```swift
    /// let left = Histogram(), right = Histogram()   // a non-Sendable class
    /// pool.join({ left.add(firstHalf) }, { right.add(secondHalf) })   // each branch its own
    /// ```
    ///
    /// - Throws: the error of `a` or `b` (of `a` if both throw), after both have finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: sending () throws(E) -> B
    ) throws(E) -> (A, B) {
        // The fast path is only the checks and the two calls: everything else (an outside
        // caller, a heartbeat, an offered join) is behind one out-of-line call, so that the
        // caller sets up nothing for it on the way past.
        if let me = Participant.joiningInline(in: registryID) {
            return try ThreadPool._joinInline(on: me, a, b)
        }
        return try _joinCold(a, b)
    }

    /// The fast path's body, shared by every binary entry point: both closures inline, one
    /// depth increment around them.
    @inlinable
    @inline(__always)
    static func _joinInline<A, B: Sendable, E: Error>(
        on me: LivePointer<Participant>,
        _ a: () throws(E) -> A,
        _ b: sending () throws(E) -> B
    ) throws(E) -> (A, B) {
        me.pointee.joinDepth &+= 1
        let resultA = Result(catching: a)
        let resultB = Result(catching: b)
        me.pointee.joinDepth &-= 1
        return (try resultA.get(), try resultB.get())
    }

    /// Every case of `join` but the fast path.
    @inlinable
    @inline(never)
    func _joinCold<A, B: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: sending () throws(E) -> B
    ) throws(E) -> (A, B) {
        // Not `_withParticipant`: `b`, `sending`, cannot be captured by a closure and sent on.
        if let me = Participant.current(in: registryID) { return try ThreadPool._joinOffering(on: me, a, b) }
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try ThreadPool._joinOffering(on: entry.participant, a, b)
    }

    /// The join proper, on participant `me` (the current thread's), for callers inside the
    /// library that already hold the participant.
    ///
    /// Fast path: one comparison of the join depth with the offer window's limit (a heartbeat
    /// closes the window too), then `a` and `b`. No allocation, no atomic read-modify-write, no
    /// reference counting; the only memory written is the participant's join depth.
    ///
    /// Only the outermost joins are *offered* (published for thieves): Swift can hand a
    /// non-escaping closure to another thread only through `withoutActuallyEscaping`, which
    /// allocates. The outermost joins hold the largest pieces of work, which are the ones worth
    /// stealing (see `Participant.offerDepthLimit`); joins nested below them run inline.
    @inlinable
    @inline(__always)
    static func _join<A, B: Sendable, E: Error>(
        on me: LivePointer<Participant>,
        _ a: () throws(E) -> A,
        _ b: sending () throws(E) -> B
    ) throws(E) -> (A, B) {
        if _fastPath(me.pointee.mayJoinInline) {
            return try _joinInline(on: me, a, b)
        }
        return try _joinOffering(on: me, a, b)
    }

    /// A join that may be offered (its heartbeat answered first): its second closure is then
    /// pushed onto the caller's deque at once, where an
    /// idle thread may take it (so a join of two plain functions runs in parallel whenever a
    /// thread is free, and a worker finishes offered joins before it starts background work),
    /// and listed in the offer window, which decides how deep the next offered join may be.
    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, E: Error>(
        on me: LivePointer<Participant>,
        _ a: () throws(E) -> A,
        _ b: sending () throws(E) -> B
    ) throws(E) -> (A, B) {
        if me.pointee.heartbeatIsDue { _answerHeartbeat(on: me) }
        let depth = me.pointee.joinDepth
        if depth > me.pointee.offerDepthLimit.load(ordering: .relaxed) {
            me.pointee.joinDepth = depth &+ 1
            let resultA = Result(catching: a)
            let resultB = Result(catching: b)
            me.pointee.joinDepth = depth
            return (try resultA.get(), try resultB.get())
        }
        return try _joinForking(on: me, depth: depth, joinsWindow: true, a, b)
    }

    /// A join whose second closure is *published* without entering the offer window: a parallel
    /// loop that answered a heartbeat splits its remaining range this way.
    @inlinable
    @inline(never)
    static func _joinPublished<A, B: Sendable>(
        on me: LivePointer<Participant>,
        _ a: () -> A,
        _ b: @Sendable () -> B
    ) -> (A, B) {
        _joinForking(on: me, depth: me.pointee.joinDepth, joinsWindow: false, a, b)
    }

    /// The forking join: `b` becomes a `StackJob` on this frame, pushed onto the deque (and
    /// listed in the offer window when `joinsWindow`); `a` runs here; then `b` is taken back and
    /// run here unless a thief took it, in which case this waits for the thief.
    /// Costs a closure context allocation (`withoutActuallyEscaping`), a deque push and pop and
    /// a wake-up check: the price of being stealable, paid only by offered joins.
    @inlinable
    @inline(__always)
    static func _joinForking<A, B: Sendable, E: Error>(
        on me: LivePointer<Participant>,
        depth: Int,
        joinsWindow: Bool,
        _ a: () throws(E) -> A,
        _ b: sending () throws(E) -> B
    ) throws(E) -> (A, B) {
        try withoutActuallyEscaping(b) { (escapingB) throws(E) -> (A, B) in
            // SAFETY: `b` came in `sending` (`join`'s parameter): the caller's region keeps no
            // reference to what it captures, `a` included, so a thief may run it while `a` runs
            // here. The cast only adds `@Sendable`; the representation is the same.
            let escapingB = unsafe unsafeBitCast(escapingB, to: (@Sendable () throws(E) -> B).self)
            // `withUnsafePointer` borrows the closure: a thief reads it through the pointer.
            // SAFETY: `body`, `context` and the job live in this frame, which does not return before `b` has run here or its thief set `done` (see `_takeBackJob`).
            return unsafe try withUnsafePointer(to: escapingB) { (body) throws(E) -> (A, B) in
                var context = unsafe _JoinContext<B, E>(body: body)
                return unsafe try withUnsafeMutablePointer(to: &context) { (contextPointer) throws(E) -> (A, B) in
                    let resultA: Result<A, E> = unsafe withUnsafeTemporaryAllocation(of: StackJob.self, capacity: 1) { buffer in
                        // SAFETY: the buffer has room for one job, initialised here and
                        // deinitialised below; this frame does not leave before the job is done
                        // (taken back, or `_takeBackJob` waited for the thief's releasing store).
                        let job = unsafe LivePointer(unchecked: buffer.baseAddress.unsafelyUnwrapped)
                        unsafe job.base.initialize(
                            to: StackJob(
                                context: UnsafeMutableRawPointer(contextPointer),
                                runner: _JoinContext<B, E>.self,
                                family: me.pointee.family, ownerParker: me.pointee.parker, depth: depth))
                        if joinsWindow {
                            me.pointee.enterOfferWindow(job)
                        } else {
                            job.pointee.leftWindow = true
                        }
                        _publishJob(job, on: me)
                        me.pointee.joinDepth = depth &+ 1
                        let resultA = Result(catching: a)
                        me.pointee.leaveOfferWindow(job)
                        if _takeBackJob(job, on: me) {
                            unsafe contextPointer.pointee.result = Result(catching: b)
                        }
                        me.pointee.joinDepth = depth
                        // Otherwise a thief ran `b`; its releasing exchange on `done`, read
                        // acquiring in `_takeBackJob`, published `context.result`.
                        unsafe job.base.deinitialize(count: 1)
                        return resultA
                    }
                    return unsafe (try resultA.get(), try contextPointer.pointee.result.unsafelyUnwrapped.get())
                }
            }
        }
    }

    /// Whether some worker of `me`'s pool is parked: a range that only a heartbeat would
    /// split must then be split at once (`_FoldRun.foldAdaptively`). A relaxed hint: a wrong
    /// answer costs one early piece, or one loop that waits for a beat as before.
    @usableFromInline
    @inline(never)
    static func _hasSleepingWorkers(on me: LivePointer<Participant>) -> Bool {
        me.pointee.registry.sleep.mayHaveSleepers
    }

    @usableFromInline
    @inline(never)
    static func _publishJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) {
        me.pointee.registry.publishJob(job, on: me)
    }

    /// Publishes `count` jobs in order (the first is the oldest: thieves take it first).
    ///
    /// # Safety
    /// As `Registry.publishJobs`: `count` consecutive initialised jobs, each alive until done.
    @unsafe
    @usableFromInline
    @inline(never)
    static func _publishJobs(_ jobs: LivePointer<StackJob>, count: Int, on me: LivePointer<Participant>) {
        // SAFETY: the caller's obligation, passed on unchanged.
        unsafe me.pointee.registry.publishJobs(jobs, count: count, on: me)
    }

    /// Answers a set heartbeat flag; says whether this thread's deque is empty, that is whether
    /// a hungry thread would find nothing of this thread's to take (a parallel loop then splits).
    @usableFromInline
    @inline(never)
    @discardableResult
    static func _answerHeartbeat(on me: LivePointer<Participant>) -> Bool {
        me.pointee.registry.answerHeartbeat(on: me)
        return me.pointee.deque.isProbablyEmpty
    }

    @usableFromInline
    @inline(never)
    static func _takeBackJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) -> Bool {
        me.pointee.registry.takeBackJob(job, on: me)
    }

    /// Pops `job` off this participant's deque if no thief took it (true: run it here).
    @usableFromInline
    @inline(never)
    static func _reclaimJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) -> Bool {
        me.pointee.registry.reclaimJob(job, on: me)
    }

    /// Waits for a stolen job as `_takeBackJob` does, but hands back the first related stack
    /// job that `claim` accepts (nil once `job` is done). The caller runs a claimed job itself
    /// and then calls `_completeClaimedJob`.
    @usableFromInline
    @inline(never)
    static func _waitForStolenJob(
        _ job: LivePointer<StackJob>, on me: LivePointer<Participant>,
        claiming claim: (LivePointer<StackJob>) -> Bool
    ) -> LivePointer<StackJob>? {
        let claimed = me.pointee.registry.waitForStolenJob(
            job, on: me, claiming: { $0.isStackJob && claim($0.stackJob) })
        guard let claimed else { return nil }
        let stackJob = claimed.stackJob
        stackJob.pointee.thief.store(me.pointee.index, ordering: .relaxed)  // a hint only, as `execute`
        return stackJob
    }

    /// Releases the owner of a job claimed by `_waitForStolenJob`, once its result is in place.
    @usableFromInline
    @inline(never)
    static func _completeClaimedJob(_ job: LivePointer<StackJob>) {
        StackJob.complete(job)
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
    _ b: sending () throws(E) -> B
) throws(E) -> (A, B) {
    if let me = Participant.joiningInline {
        return try ThreadPool._joinInline(on: me, a, b)
    }
    return try _freeJoinCold(a, b)
}

/// Every case of `Spindle.join` but the fast path.
@inlinable
@inline(never)
func _freeJoinCold<A, B: Sendable, E: Error>(
    _ a: () throws(E) -> A,
    _ b: sending () throws(E) -> B
) throws(E) -> (A, B) {
    if let me = Participant.current {
        return try ThreadPool._joinOffering(on: me, a, b)
    }
    return try ThreadPool.shared._joinCold(a, b)
}
