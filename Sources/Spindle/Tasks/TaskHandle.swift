import Synchronization

/// The shared state of one submitted task: who claimed it, and its outcome.
///
/// `state` moves once from `pending` to `running` (claimed by a worker, or by a waiter that runs
/// it inline) or to `cancelled`; `running` moves to `finished`. The outcome is written before
/// `finished` and read after seeing it (the event's release/acquire).
final class TaskState<T: Sendable>: @unchecked Sendable {  // `outcome` is written once before `event.set()` and read after `event` is set
    static var pending: UInt8 { 0 }
    static var running: UInt8 { 1 }
    static var finished: UInt8 { 2 }
    static var cancelled: UInt8 { 3 }

    let state = Atomic<UInt8>(0)
    let cancelRequested = Atomic<Bool>(false)
    let event = OneShotEvent()
    private var outcome: Result<T, any Error>?
    let body: @Sendable () throws -> T

    init(body: @escaping @Sendable () throws -> T) {
        self.body = body
    }

    /// Moves `pending` → `running`; false if someone else claimed or cancelled it first.
    func claim() -> Bool {
        // Acquiring: a winner sees everything the submitter wrote (pairs with the queue's lock).
        state.compareExchange(expected: Self.pending, desired: Self.running, ordering: .acquiring).exchanged
    }

    /// Runs the claimed task and publishes its outcome.
    func runClaimed() {
        outcome = Result { try body() }
        state.store(Self.finished, ordering: .releasing)  // pairs with `isComplete`'s acquiring load
        event.set()
    }

    func cancel() -> Bool {
        cancelRequested.store(true, ordering: .relaxed)  // polled by the task; orders nothing
        if state.compareExchange(expected: Self.pending, desired: Self.cancelled, ordering: .acquiringAndReleasing).exchanged {
            outcome = .failure(CancellationError())
            event.set()
            return true
        }
        return false
    }

    /// Valid after `event` is set.
    var result: Result<T, any Error> { outcome.unsafelyUnwrapped }
}

/// A handle to a task submitted with `ThreadPool.submit`.
///
/// ```swift
/// let handle = try pool.submit { render(tile) }
/// // … other work …
/// let image = try handle.wait()
/// ```
///
/// `wait()` from a thread that finds the task not yet started runs it on the spot, so waiting on
/// a task from inside another task cannot deadlock the pool.
public final class TaskHandle<T: Sendable>: Sendable {
    let task: TaskState<T>

    init(task: TaskState<T>) {
        self.task = task
    }

    /// Whether the task has finished (returned, thrown or been cancelled).
    public var isComplete: Bool { task.event.isSet }

    /// Whether `cancel()` was called; a long task can poll it and stop early.
    public var isCancelled: Bool { task.cancelRequested.load(ordering: .relaxed) }

    /// Waits for the task and returns its value.
    ///
    /// If no worker has started the task yet, the calling thread runs it itself.
    /// - Throws: the task's error, or `CancellationError` when it was cancelled before it started.
    public func wait() throws -> T {
        if task.claim() {
            task.runClaimed()
        } else if let me = Participant.current {
            // A participant of some pool must keep serving what only it can run (its broadcast
            // inbox, its home worker's inbox) while the task runs elsewhere: the task may wait
            // for exactly that.
            let registry = me.pointee.registry.takeUnretainedValue()
            while !task.event.wait(timeoutNanoseconds: registry.heartbeat.intervalNanoseconds) {
                registry.serveInboxes(of: me)
            }
        } else {
            task.event.wait()
        }
        return try task.result.get()
    }

    /// Cancels the task if it has not started: it will never run and `wait()` throws
    /// `CancellationError`. A running task is not interrupted, but `isCancelled` becomes true.
    /// Returns whether the task was stopped before it started.
    @discardableResult
    public func cancel() -> Bool {
        task.cancel()
    }
}

/// The background job that runs a submitted task.
final class SubmittedJob<T: Sendable>: HeapJob, @unchecked Sendable {  // immutable
    let task: TaskState<T>

    init(task: TaskState<T>) {
        self.task = task
        super.init(family: 0, isBackground: true)
    }

    override func execute() {
        if task.claim() { task.runClaimed() }
    }

}
