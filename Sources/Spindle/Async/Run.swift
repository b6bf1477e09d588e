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
                job.install(continuation)
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
/// `state` moves once from `pending` to `running` (a worker claimed it) or to `finished`
/// (cancelled or abandoned before it started); `running` moves to `finished`. Whoever wins the
/// move out of `pending` gives back the `maxPending` place and resumes the continuation (with the
/// value, or the error): exactly once. The continuation is installed before the job is queued,
/// and the queue's lock publishes it to the worker.
final class RunJob<T: Sendable>: HeapJob, @unchecked Sendable {  // `continuation` is written once before the job is queued; `state` is atomic
    private static var pending: UInt8 { 0 }
    private static var running: UInt8 { 1 }
    private static var finished: UInt8 { 2 }

    private let work: @Sendable () throws -> T
    private let registry: Registry
    private let state = Atomic<UInt8>(0)
    private var continuation: UnsafeContinuation<T, any Error>?

    init(work: @escaping @Sendable () throws -> T, registry: Registry) {
        self.work = work
        self.registry = registry
        super.init(family: 0, isBackground: true)
    }

    override var leavesPendingOnDequeue: Bool { false }
    override var countsCompletionOnExecute: Bool { false }

    func install(_ continuation: UnsafeContinuation<T, any Error>) {
        self.continuation = continuation
    }

    /// Moves `pending` to `to`; on success gives back the place. Acquiring and releasing: the
    /// winner sees the installed continuation (it was written before the job was queued or the
    /// cancellation handler could see the job).
    private func leavePending(to next: UInt8) -> Bool {
        guard state.compareExchange(expected: Self.pending, desired: next, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        return true
    }

    override func execute() {
        guard leavePending(to: Self.running) else { return }  // cancelled while queued
        registry.leavePending()
        let result = Result { try work() }
        registry.record(result.isSuccess ? .completed : .failed)
        state.store(Self.finished, ordering: .releasing)  // pairs with nothing that reads data: a final state
        continuation.unsafelyUnwrapped.resume(with: result)
    }

    /// The awaiting task was cancelled: if the work has not started, it never will.
    func cancel() {
        guard leavePending(to: Self.finished) else { return }
        registry.leavePending()
        registry.record(.cancelled)
        continuation.unsafelyUnwrapped.resume(throwing: CancellationError())
    }

    /// The job could not be queued (shut down, or the waiting admission failed): ends the call.
    /// Its place was never taken, so none is given back.
    func abandon(with error: any Error) {
        guard leavePending(to: Self.finished) else { return }
        continuation.unsafelyUnwrapped.resume(throwing: error)
    }
}
