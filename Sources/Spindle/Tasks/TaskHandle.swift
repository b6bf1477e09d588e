import Synchronization

/// The shared state of one submitted task: who claimed it, its outcome, and who awaits it.
///
/// `state` moves once from `pending` to `running` (claimed by a worker, or by a waiter that runs
/// it inline) or to `cancelled`; `running` moves to `finished`. The outcome is written under
/// `lock` before `event.set()`; synchronous waiters read it after the event (its
/// release/acquire), asynchronous ones are resumed with it.
///
/// The task's `maxPending` place is given back when a synchronous task leaves `pending`
/// (whoever wins that transition), and when an async task finishes: an async task's memory
/// (its Swift task) lives as long as it runs, so the bound counts it until then.
// @unchecked Sendable: `outcome`, `awaiters`, `swiftTask` under `lock`; `state` atomic; `place`: see there.
final class TaskState<T: Sendable>: @unchecked Sendable {
    static var pending: UInt8 { 0 }
    static var running: UInt8 { 1 }
    static var finished: UInt8 { 2 }
    static var cancelled: UInt8 { 3 }

    let state = Atomic<UInt8>(0)
    let cancelRequested = Atomic<Bool>(false)
    let event = OneShotEvent()
    private let lock = FutexLock()
    private var outcome: Result<T, any Error>?
    private var awaiters: [Int: CheckedContinuation<T, any Error>] = [:]
    private var nextAwaiter = 0
    /// The synchronous body; nil for an async task, whose body its Swift task holds.
    let body: (@Sendable () throws -> T)?
    /// The Swift task running an async task's body (to cancel it), once started.
    private var swiftTask: Task<Void, Never>?
    /// The pool's registry: its `maxPending` count and its metrics.
    private let registry: Registry
    /// The task's timeout, if any (configured or its own).
    let timeout: Duration?

    /// A synchronous task.
    init(body: @escaping @Sendable () throws -> T, registry: Registry, timeout: Duration?) {
        self.body = body
        self.registry = registry
        self.timeout = timeout
        LiveObjects.created(.taskState)
    }

    /// An async task: its Swift task calls `runAsync`.
    init(asyncOn registry: Registry, timeout: Duration?) {
        self.body = nil
        self.registry = registry
        self.timeout = timeout
        LiveObjects.created(.taskState)
    }

    deinit { LiveObjects.destroyed(.taskState) }

    var isAsync: Bool { body == nil }

    /// The task's `maxPending` place: stored by the admitting thread before the task is queued
    /// (so before anyone can claim or cancel it), ended by the one thread that moves `state` out
    /// of `pending` (synchronous task) or that publishes the outcome (async task).
    private var place: PendingPlace?

    func holdPlace(_ place: consuming PendingPlace) { self.place = consume place }

    /// Moves `pending` → `running`; false if someone else claimed or cancelled it first.
    func claim() -> Bool {
        // Acquiring: a winner sees everything the submitter wrote (pairs with the queue's lock).
        guard state.compareExchange(expected: Self.pending, desired: Self.running, ordering: .acquiring).exchanged else {
            return false
        }
        if !isAsync { place = nil }  // gives the place back: the task left the waiting room
        return true
    }

    /// Runs the claimed synchronous task and publishes its outcome.
    func runClaimed() {
        guard let body else { preconditionFailure("runClaimed is for synchronous tasks") }
        let started = timeout == nil ? 0 : monotonicNanoseconds()
        let result = Result { try body() }
        if let timeout, monotonicNanoseconds() - started > timeout.nanosecondsClamped {
            registry.timedOutTasks.wrappingAdd(1, ordering: .relaxed)  // a count
        }
        registry.record(TaskOutcome(result))
        publish(result, finalState: Self.finished)
    }

    /// Runs the claimed synchronous task on the thread that waits for it (`wait()`), as a
    /// participant of its pool unless the thread is one already: the body sees the pool it was
    /// submitted to as `ThreadPool.current`, so its joins and loops run there (with this thread
    /// helping), as they would on a worker, rather than on the shared pool.
    func runClaimedByWaiter() {
        if Participant.current(in: registry.identity) != nil { return runClaimed() }
        let entry = registry.enterExternal()
        defer { registry.exitExternal(entry) }
        runClaimed()
    }

    /// Remembers the Swift task of an async task, so that `cancel()` reaches it; cancels it at
    /// once if `cancel()` came first.
    func attach(_ task: Task<Void, Never>) {
        let cancelNow = lock.withLock { () -> Bool in
            swiftTask = task
            return cancelRequested.load(ordering: .relaxed)  // set before `cancel` takes the lock
        }
        if cancelNow { task.cancel() }
    }

    /// The body of an async task's Swift task: runs `work` unless the task was cancelled before
    /// it started, under the task's timeout, and publishes the outcome.
    func runAsync(_ work: @escaping @Sendable () async throws -> T) async {
        guard claim() else { return }  // cancelled before it started: `cancel` published that
        let result = await runUnderTimeout(work, limit: timeout, registry: registry)
        registry.record(TaskOutcome(result))
        publish(result, finalState: Self.finished)
    }

    private func cancelSwiftTask() {
        lock.withLock { swiftTask }?.cancel()
    }

    /// `TaskHandle.cancel()`: stops the task if it has not started; a running async task's Swift
    /// task is cancelled too.
    func cancel() -> Bool {
        cancelRequested.store(true, ordering: .relaxed)  // polled by the task; read by `attach` under the lock
        if isAsync { cancelSwiftTask() }  // a running async body sees Swift task cancellation
        return cancelIfPending()
    }

    /// Stops the task if it has not started (then it never runs); leaves a running one alone.
    func cancelIfPending() -> Bool {
        guard state.compareExchange(expected: Self.pending, desired: Self.cancelled, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        place = nil  // the winner of the move out of `pending` gives the place back
        registry.record(.cancelled)
        publish(.failure(CancellationError()), finalState: Self.cancelled)
        return true
    }

    private func publish(_ result: Result<T, any Error>, finalState: UInt8) {
        let waiting = lock.withLock { () -> [CheckedContinuation<T, any Error>] in
            outcome = result
            swiftTask = nil
            let all = Array(awaiters.values)
            awaiters.removeAll()
            return all
        }
        // An async task's place: given back by whoever publishes (the only thread that touches
        // it after admission: the runner after its claim, or the canceller that won `pending`).
        if isAsync { place = nil }
        state.store(finalState, ordering: .releasing)  // pairs with the acquiring loads of `state`
        event.set()
        for continuation in waiting { continuation.resume(with: result) }
    }

    /// Valid after `event` is set.
    var result: Result<T, any Error> { lock.withLock { outcome! } }

    /// A number for one asynchronous wait, taken before it suspends (so that its cancellation
    /// handler can name it even before it registers).
    func makeAwaiterID() -> Int {
        lock.withLock {
            nextAwaiter += 1
            return nextAwaiter
        }
    }

    /// Suspends until the outcome is known, as awaiter `id`. `armTimeout`, when given, is called
    /// once the wait is registered and may end it early through `abandonAwait`.
    func awaitOutcome(id: Int, armTimeout: (() -> Void)? = nil) async throws -> T {
        defer { sanitizerSeesResumption() }  // the task may end before the closure returns
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let registered = lock.withLock { () -> Bool in
                if outcome != nil { return false }
                awaiters[id] = continuation
                return true
            }
            if registered {
                armTimeout?()
            } else {
                continuation.resume(with: result)
            }
        }
    }

    /// How many asynchronous waits are registered now (for tests).
    var awaiterCount: Int { lock.withLock { awaiters.count } }

    /// Ends one asynchronous wait with `error`, if it is still waiting.
    func abandonAwait(_ id: Int, with error: any Error) {
        let continuation = lock.withLock { awaiters.removeValue(forKey: id) }
        continuation?.resume(throwing: error)
    }

    /// The task awaiting as `id` was cancelled: cancels the task if it has not started and no
    /// other task awaits it (then every wait ends with `CancellationError`). Otherwise nothing
    /// changes: the task runs, and this awaiter, like the others, gets its real outcome, so a
    /// `CancellationError` from `value` always means that the task never ran.
    func cancelAwait(_ id: Int) {
        let othersWaiting = lock.withLock { awaiters.count > (awaiters[id] == nil ? 0 : 1) }
        if !othersWaiting, cancelIfPending() { cancelRequested.store(true, ordering: .relaxed) }  // see `cancel`
    }
}

/// A handle to a task submitted with `ThreadPool.submit`.
///
/// ```swift
/// let handle = try pool.submit { render(tile) }
/// // … other work …
/// let image = try handle.wait()           // from synchronous code
/// ```
/// From async code, `try await handle.value` waits without blocking a thread (`wait()` is
/// unavailable there).
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
    /// If no worker has started a synchronous task yet, the calling thread runs it itself, as a
    /// participant of the pool: `ThreadPool.current` inside is the pool, and the task's joins and
    /// parallel loops run there, as on a worker. An
    /// async task (`submit { await … }`) is only waited for: do not wait for one from the pool's
    /// own workers, which it needs to run.
    /// - Throws: the task's error, or `CancellationError` when it was cancelled before it started.
    @available(*, noasync, message: "wait() blocks its thread; in async code use `try await handle.value`")
    public func wait() throws -> T {
        if !task.isAsync, task.claim() {
            task.runClaimedByWaiter()
        } else {
            task.event.waitServingInboxes()
        }
        return try task.result.get()
    }

    /// The task's value, awaited without blocking a thread.
    ///
    /// ```swift
    /// let handle = try pool.submit { render(tile) }
    /// let image = try await handle.value
    /// ```
    /// If the awaiting Swift task is cancelled, the submitted task is cancelled too when it has
    /// not started yet and no other task is awaiting its value at that moment: this then throws
    /// `CancellationError`, and the task never runs. Otherwise (the task runs already, or
    /// someone else awaits it) the task goes on and this returns its outcome, as for every other
    /// awaiter: `CancellationError` from `value` always means the task did not run. To stop it
    /// for everyone, call `cancel()`.
    /// - Throws: the task's error, or `CancellationError`.
    public var value: T {
        get async throws {
            let task = self.task
            let id = task.makeAwaiterID()
            return try await withTaskCancellationHandler {
                try await task.awaitOutcome(id: id)
            } onCancel: {
                task.cancelAwait(id)
            }
        }
    }

    /// The task's value, waiting at most `timeout`. The task itself goes on after a timeout (cancel
    /// it with `cancel()` if its result is no longer wanted).
    ///
    /// ```swift
    /// let handle = try pool.submit { search(query) }
    /// let hits = try await handle.value(timeout: .milliseconds(50))
    /// ```
    /// - Throws: `ThreadPoolError.timedOut` when the timeout passes first; otherwise as `value`.
    public func value(timeout: Duration) async throws -> T {
        let task = self.task
        let id = task.makeAwaiterID()
        // The timer is cancelled as soon as the wait ends, so that it does not keep the task's
        // state (and its result) alive for the rest of the timeout.
        let timer = TimeoutTimer()
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await task.awaitOutcome(
                id: id,
                armTimeout: {
                    let sleeper = Task {
                        do { try await Task.sleep(for: timeout) } catch { return }  // cancelled: the wait ended
                        task.abandonAwait(id, with: ThreadPoolError.timedOut(timeout))
                    }
                    timer.arm(sleeper)
                })
        } onCancel: {
            task.cancelAwait(id)
        }
    }

    /// Cancels the task if it has not started: it will never run and `wait()` throws
    /// `CancellationError`. A running synchronous task is not interrupted, but `isCancelled`
    /// becomes true; a running async task's Swift task is cancelled (its body sees
    /// `Task.isCancelled`, and its outcome is whatever the body then returns or throws).
    /// Returns whether the task was stopped before it started.
    @discardableResult
    public func cancel() -> Bool {
        task.cancel()
    }
}

extension Sequence {
    /// The values of these tasks, in the sequence's order, awaited without blocking a thread.
    ///
    /// ```swift
    /// let handles = try (0..<8).map { i in try pool.submit { try await load(part: i) } }
    /// let parts = try await handles.values()
    /// ```
    /// Waits for the tasks one after the other, in order, and throws the first error met in that
    /// order (the later tasks go on; cancel them if their results are no longer wanted). As for
    /// ``TaskHandle/value``, cancelling the awaiting task cancels a task not yet started that
    /// nobody else awaits.
    /// - Throws: the first error in order, or `CancellationError`.
    public func values<T: Sendable>() async throws -> [T] where Element == TaskHandle<T> {
        var values: [T] = []
        values.reserveCapacity(underestimatedCount)
        for handle in self { values.append(try await handle.value) }
        return values
    }

    /// The outcomes of these tasks, in the sequence's order, once every one has ended.
    ///
    /// ```swift
    /// let handles = try (0..<8).map { i in try pool.submit { try await load(part: i) } }
    /// let outcomes = await handles.results()
    /// let failures = outcomes.filter { if case .failure = $0 { true } else { false } }
    /// ```
    public func results<T: Sendable>() async -> [Result<T, any Error>] where Element == TaskHandle<T> {
        var results: [Result<T, any Error>] = []
        results.reserveCapacity(underestimatedCount)
        for handle in self { results.append(await Result(awaiting: { try await handle.value })) }
        return results
    }
}

/// The timer task of one `value(timeout:)` call, cancelled when the wait ends.
final class TimeoutTimer: Sendable {
    private let sleeper = FutexLocked<Task<Void, Never>?>(nil)

    func arm(_ task: Task<Void, Never>) { sleeper.withLock { $0 = task } }

    func cancel() { sleeper.withLock { $0?.cancel() } }
}

/// The background job that runs a submitted task.
final class SubmittedJob<T: Sendable>: HeapJob, @unchecked Sendable {  // immutable
    let task: TaskState<T>

    init(task: TaskState<T>) {
        self.task = task
        super.init(family: 0, isBackground: true)
    }

    /// The task keeps the place: it gives it back when it leaves `pending`, which a
    /// cancellation through the handle may do before any worker dequeues the job.
    override func holdPlace(_ place: consuming PendingPlace) { task.holdPlace(place) }

    /// The task records its own outcome.
    override var recordsOwnOutcome: Bool { true }

    override func execute() {
        if task.claim() { task.runClaimed() }
    }

    override func cancelBeforeStart() -> Bool { task.cancel() }

}
