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
    /// waits (suspended) for a place rather than failing. If the calling task is cancelled
    /// before the work starts, the work never runs and `run` throws `CancellationError`; once it
    /// runs, it runs to the end.
    /// - Throws: the error `work` throws; `CancellationError`; `ThreadPoolError.shutDown`.
    @concurrent
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        let job = RunJob(work: work, registry: registry)
        let registry = self.registry
        return try await withTaskCancellationHandler {
            // SAFETY: the continuation is resumed exactly once: by `install` refusing it here, or by the one thread that moves the job out of `pending` (RunJob).
            unsafe try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
                // Cancelled before the continuation existed: the work never runs.
                guard unsafe job.install(continuation) else {
                    unsafe continuation.resume(throwing: CancellationError())
                    return
                }
                // Admission here, synchronously, when there is room (the usual case); at
                // `maxPending`, a task waits for a place and queues the job then.
                switch registry.tryAdmitBackground(job) {
                case .admitted:
                    break
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

    init(work: @escaping @Sendable () throws -> T, registry: Registry) {
        self.work = work
        self.registry = registry
        super.init(family: 0, isBackground: true)
    }

    override var recordsOwnOutcome: Bool { true }

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
        let result = Result { try work() }
        registry.record(TaskOutcome(result))
        lock.withLock { outcome = .finished }
        unsafe continuation.unsafelyUnwrapped.resume(with: result)  // installed before admission
    }

    /// The awaiting task was cancelled: if the work has not started, it never will.
    func cancel() { _ = endBeforeStart(throwing: CancellationError(), isCancellation: true) }

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
