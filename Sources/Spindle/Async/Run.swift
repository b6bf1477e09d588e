import CSpindle
import Synchronization

/// `run`: synchronous CPU work offloaded from async code onto the pool.

extension ThreadPool {
    /// Runs `work` on one of the pool's workers and returns its value, suspending the calling
    /// task meanwhile (its thread is free for other tasks: the cooperative pool is never blocked).
    ///
    /// ```swift
    /// func handle(_ request: Request) async throws -> Response {
    ///     let thumbnail = try await pool.run { render(request.image) }   // CPU work off the async pool
    ///     return Response(body: thumbnail)
    /// }
    /// ```
    /// The work is a background task: it counts against `maxPending`, and at that bound `run`
    /// waits (suspended) for a place rather than failing. From a task that already runs on one
    /// of this pool's workers (`Task(executorPreference: pool)`), there is nothing to hop to:
    /// the work runs on the spot, outside `maxPending`.
    ///
    /// `run` keeps the caller's isolation (`nonisolated(nonsending)`): from the main actor or
    /// another actor, the work is handed over from there and the result comes back there, with no
    /// extra hop through the global executor. Work that ends within about 10 µs of being handed
    /// over is waited for on the calling thread, since suspending and being woken costs more
    /// than that; longer work suspends the task, and the caller's thread (or actor) is free.
    ///
    /// Cancellation of the calling task:
    /// - before the work starts: the work never runs, and `run` throws `CancellationError`;
    /// - while it runs: the work is not interrupted, but `ThreadPool.isCancelled` turns true in
    ///   it and in everything it forks (`join`, `scope`, parallel loops), so it can stop early
    ///   (`try ThreadPool.checkCancellation()` throws `CancellationError`, and in a throwing loop
    ///   body stops the loop). Whatever the work then returns or throws is what `run` returns or
    ///   throws: a value that was computed is never replaced by an error, so `CancellationError`
    ///   from `run` means the work did not run (or threw it itself).
    ///
    /// ```swift
    /// try await pool.run {
    ///     try images.parallel.forEach { image in
    ///         try ThreadPool.checkCancellation()   // a cancelled request stops the loop
    ///         _ = render(image)
    ///     }
    /// }
    /// ```
    /// - Throws: the error `work` throws; `CancellationError`; `ThreadPoolError.shutDown`.
    @inlinable
    nonisolated(nonsending) public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        if let me = Participant.current(in: registryID), me.pointee.isWorker {
            // Already on a worker of this pool (the task prefers it): no hop. `isCancelled` reads
            // this task's cancellation here (the worker runs the task's job as a family root).
            return try work()
        }
        return try await _runOnWorker(work)
    }

    /// `run`'s hop: the work as a background job, the calling task suspended until it ran.
    ///
    /// Isolated to the caller's actor through `isolation` rather than `nonisolated(nonsending)`:
    /// the operation closure below must capture an isolated parameter to be isolated itself. A
    /// closure that captured none was nonisolated, and `withTaskCancellationHandler` hopped to the
    /// global executor to run it and back to the caller afterwards: from the main actor that was
    /// two thread wake-ups per call (43 µs from the call to the continuation's closure, in a
    /// scratch program; 0.36 µs with the capture).
    @usableFromInline
    func _runOnWorker<T: Sendable>(
        _ work: @escaping @Sendable () throws -> T, isolation: isolated (any Actor)? = #isolation
    ) async throws -> T {
        let job = RunJob(work: work, registry: registry)
        let registry = self.registry
        return try await withTaskCancellationHandler {
            _ = isolation  // the capture that keeps this closure on the caller's actor (see above)
            // The worker often resumes before the closure below returns (that is the point).
            defer { sanitizerSeesResumption() }
            // SAFETY: the continuation is resumed exactly once: by `install` refusing it here, or by the one thread that moves the job out of `pending` (RunJob).
            return unsafe try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
                #if DEBUG
                    _RunTestHooks.submission?()  // tests: where the hand-over runs (the caller's actor)
                #endif
                // Cancelled before the continuation existed: the work never runs.
                guard unsafe job.install(continuation) else {
                    unsafe continuation.resume(throwing: CancellationError())
                    return
                }
                // Admission here, synchronously, when there is room (the usual case); at
                // `maxPending`, a task waits for a place and queues the job then.
                switch registry.tryAdmitBackground(job) {
                case .admitted:
                    // Work that ends within a few microseconds resumes this continuation before
                    // the closure returns; the task then goes on here, on the calling thread,
                    // instead of being enqueued and waking a thread of its executor (which costs
                    // more than the wait: README "run round trip").
                    job.waitBrieflyForResumption()
                case .closed:
                    job.abandon(with: ThreadPoolError.shutDown)
                case .saturated:
                    Task { [job] in
                        do {
                            try await registry.submitBackgroundWaitingForRoom(job)
                        } catch {
                            job.abandon(with: error)
                        }
                    }
                }
            }
        } onCancel: {
            job.cancel()
        }
    }
}

#if DEBUG
    /// Test hooks of `run` (debug builds only).
    enum _RunTestHooks {
        /// Called on the thread that hands the work over, inside the continuation's closure,
        /// for `run` calls made by the task that set it (and its child tasks).
        @TaskLocal static var submission: (@Sendable () -> Void)?
    }
#endif

/// The background job of one `run` call: the work, the continuation of the awaiting task, and
/// who got to it first.
///
/// Under `lock`: `outcome` moves once from `pending` to `running` (a worker claimed it) or to
/// `finished` (cancelled, abandoned, or cancelled at a shutdown deadline); whoever moves it out
/// of `pending` resumes the continuation, exactly once. The continuation is installed before
/// admission; a cancellation that comes first leaves `finished` behind, and `install` then
/// refuses it. The `maxPending` place is kept here, under the lock, and ended by the first of:
/// the claim, the cancellation, or the dequeue of a job cancelled while queued.
// @safe: the unsafe continuation is resumed exactly once, by whoever moves `outcome` out of
// `pending` under `lock` (see above).
@safe
final class RunJob<T: Sendable>: HeapJob, @unchecked Sendable {  // mutable state is guarded by `lock`
    private enum Outcome { case pending, running, finished }

    private let work: @Sendable () throws -> T
    private let registry: Registry
    private let lock = FutexLock()
    private var outcome = Outcome.pending
    private var continuation: UnsafeContinuation<T, any Error>?
    private var place: PendingPlace?
    /// Set (releasing) once the continuation has been resumed, by whoever resumed it.
    private let resumed = Atomic<Bool>(false)
    /// Set when the awaiting task is cancelled; the work observes it through
    /// `ThreadPool.isCancelled`, and so does the work it forks.
    private let cancellationFlag = CancellationFlag()

    init(work: @escaping @Sendable () throws -> T, registry: Registry) {
        self.work = work
        self.registry = registry
        super.init(family: 0, isBackground: true)
    }

    override var recordsOwnOutcome: Bool { true }

    override var cancellation: CancellationSource? { cancellationFlag }

    /// Stores the continuation; false if the call was cancelled first.
    func install(_ continuation: UnsafeContinuation<T, any Error>) -> Bool {
        lock.withLock {
            guard outcome == .pending else { return false }
            // SAFETY: stored under `lock` while `pending`; only the winner of `leavePending` takes it out.
            unsafe self.continuation = continuation
            return true
        }
    }

    override func holdPlace(_ place: consuming PendingPlace) {
        // Cancelled while being admitted: the place goes back at once (when `place` ends here).
        var place = Optional(place)
        lock.withLock {
            if outcome == .pending { swap(&self.place, &place) }
        }
        place?.giveBack()
    }

    /// Leaves `pending` for `next`; returns whether this caller won and the continuation. The
    /// place goes back either way, after the lock (giving it back may resume a waiting submitter).
    private func leavePending(to next: Outcome) -> (won: Bool, UnsafeContinuation<T, any Error>?) {
        var place: PendingPlace? = nil
        // SAFETY: the continuation leaves the job only here, under `lock`, to the one caller that wins the move out of `pending`.
        let result = unsafe lock.withLock { () -> (won: Bool, UnsafeContinuation<T, any Error>?) in
            swap(&place, &self.place)
            guard outcome == .pending else { return (false, nil) }
            outcome = next
            return unsafe (true, continuation)
        }
        place?.giveBack()
        return unsafe result
    }

    override func execute() {
        // Dequeued: the place is free either way.
        // SAFETY: only the winner resumes; it was installed before admission, so it is there.
        let (won, continuation) = unsafe leavePending(to: .running)
        guard won else { return }  // cancelled while queued
        // Cancelled while it runs: the work sees `ThreadPool.isCancelled` and may stop early (by
        // throwing `CancellationError`, say); whatever it returns or throws reaches the caller.
        let result = Result { try work() }
        registry.record(TaskOutcome(result))
        lock.withLock { outcome = .finished }
        unsafe continuation.unsafelyUnwrapped.resume(with: result)  // installed before admission
        resumed.store(true, ordering: .releasing)  // pairs with `waitBrieflyForResumption`
    }

    /// How long the submitting thread waits for a resumption before it lets its task suspend:
    /// about what waking a parked thread of the task's executor costs on Linux.
    static var resumptionWaitNanoseconds: Int64 { 10_000 }

    /// On the submitting thread, inside the continuation's closure: spins until the continuation
    /// was resumed or `resumptionWaitNanoseconds` passed. Bounded, so a long job costs its
    /// caller at most that much spinning; a short one then needs no hop back.
    func waitBrieflyForResumption() {
        let deadline = monotonicNanoseconds() + Self.resumptionWaitNanoseconds
        // Acquiring: pairs with the releasing store after the resumption (a hint only: the
        // continuation itself carries the result).
        while !resumed.load(ordering: .acquiring) {
            if monotonicNanoseconds() > deadline { return }
            spindle_cpu_relax()
        }
    }

    /// The awaiting task was cancelled: if the work has not started, it never will; if it runs,
    /// `ThreadPool.isCancelled` turns true for it.
    func cancel() {
        cancellationFlag.set()
        _ = endBeforeStart(throwing: CancellationError(), isCancellation: true)
    }

    /// Taken out of the queue at a graceful shutdown's deadline.
    override func cancelBeforeStart() -> Bool { endBeforeStart(throwing: CancellationError(), isCancellation: true) }

    /// The job could not be queued (shut down, or the waiting admission failed): ends the call.
    func abandon(with error: any Error) { _ = endBeforeStart(throwing: error, isCancellation: false) }

    /// Ends the call with `error` unless the work has started (or the call has ended); says
    /// whether it did. A cancellation is counted in the metrics.
    private func endBeforeStart(throwing error: any Error, isCancellation: Bool) -> Bool {
        // SAFETY: only the winner of the move out of `pending` resumes, once.
        let (won, continuation) = unsafe leavePending(to: .finished)
        guard won else { return false }
        if isCancellation { registry.record(.cancelled) }
        // No continuation yet (a cancellation before `install`): `install` will refuse and end
        // the call with `CancellationError`.
        unsafe continuation?.resume(throwing: error)
        return true
    }
}
