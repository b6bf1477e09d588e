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
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
                // Cancelled before the continuation existed: the work never runs.
                guard job.install(continuation) else {
                    continuation.resume(throwing: CancellationError())
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
/// refuses it. `queued` says the job took a `maxPending` place (set under the admission lock
/// before the job enters the queue); the place is given back once, by the first of: the claim,
/// the cancellation, or the dequeue of a job cancelled while queued.
final class RunJob<T: Sendable>: HeapJob, CancellableJob, @unchecked Sendable {  // mutable state is guarded by `lock`
    private enum Outcome { case pending, running, finished }

    private let work: @Sendable () throws -> T
    private let registry: Registry
    private let lock = FutexLock()
    private var outcome = Outcome.pending
    private var continuation: UnsafeContinuation<T, any Error>?
    private var queued = false
    private var placeGivenBack = false

    init(work: @escaping @Sendable () throws -> T, registry: Registry) {
        self.work = work
        self.registry = registry
        super.init(family: 0, isBackground: true)
    }

    override var leavesPendingOnDequeue: Bool { false }
    override var countsCompletionOnExecute: Bool { false }

    /// Stores the continuation; false if the call was cancelled first.
    func install(_ continuation: UnsafeContinuation<T, any Error>) -> Bool {
        lock.withLock {
            guard outcome == .pending else { return false }
            self.continuation = continuation
            return true
        }
    }

    override func willBeQueued() {
        lock.withLock { queued = true }
    }

    /// Under the lock: whether this caller should give the place back (it is taken, and nobody
    /// gave it back yet).
    private func takePlaceBack() -> Bool {
        guard queued && !placeGivenBack else { return false }
        placeGivenBack = true
        return true
    }

    /// Leaves `pending` for `next`; returns whether this caller won, the continuation, and
    /// whether it must give the place back.
    private func leavePending(to next: Outcome, returningPlace: Bool) -> (won: Bool, UnsafeContinuation<T, any Error>?, giveBack: Bool) {
        lock.withLock {
            let giveBack = returningPlace && takePlaceBack()
            guard outcome == .pending else { return (false, nil, giveBack) }
            outcome = next
            return (true, continuation, giveBack)
        }
    }

    override func execute() {
        // Dequeued: the place is free either way.
        let (won, continuation, giveBack) = leavePending(to: .running, returningPlace: true)
        if giveBack { registry.leavePending() }
        guard won else { return }  // cancelled while queued
        let result = Result { try work() }
        registry.record(result.isSuccess ? .completed : .failed)
        lock.withLock { outcome = .finished }
        continuation.unsafelyUnwrapped.resume(with: result)  // installed before admission
    }

    /// The awaiting task was cancelled: if the work has not started, it never will.
    func cancel() {
        let (won, continuation, giveBack) = leavePending(to: .finished, returningPlace: true)
        if giveBack { registry.leavePending() }
        guard won else { return }
        registry.record(.cancelled)
        // No continuation yet: `install` will refuse and end the call with the same error.
        continuation?.resume(throwing: CancellationError())
    }

    /// Taken out of the queue at a graceful shutdown's deadline.
    func cancelBeforeStart() -> Bool {
        let (won, continuation, giveBack) = leavePending(to: .finished, returningPlace: true)
        if giveBack { registry.leavePending() }
        guard won else { return false }
        registry.record(.cancelled)
        continuation?.resume(throwing: CancellationError())
        return true
    }

    /// The job could not be queued (shut down, or the waiting admission failed): ends the call.
    func abandon(with error: any Error) {
        let (won, continuation, _) = leavePending(to: .finished, returningPlace: false)
        guard won else { return }
        continuation?.resume(throwing: error)
    }
}
