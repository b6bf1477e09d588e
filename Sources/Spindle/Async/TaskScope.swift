import Synchronization

/// An async scope on a pool: structured async tasks under `maxPending`, which all end before the
/// scope returns.

extension ThreadPool {
    /// Runs `body` with a scope whose async tasks run on this pool, and returns once every task
    /// spawned in it has ended.
    ///
    /// ```swift
    /// try await pool.withTaskScope { scope in
    ///     for id in ids {
    ///         try await scope.spawn { await refresh(id) }   // waits while maxPending are alive
    ///     }
    /// }   // every refresh has ended here
    /// ```
    /// - **Success:** when `body` returns, the scope waits for every task it spawned, then returns
    ///   `body`'s value.
    /// - **Error:** the first error, from `body` or from any task, cancels every other task of the
    ///   scope (Swift task cancellation) and stops further spawns; the scope waits for them all to
    ///   end and rethrows that first error.
    /// - **Cancellation:** cancelling the task that called `withTaskScope` cancels every task in
    ///   it, and `spawn` throws `CancellationError`.
    ///
    /// The tasks inherit the caller's priority and task-local values, and their jobs run on this
    /// pool. Each holds one of the pool's `maxPending` places until it ends:
    /// ``TaskScope/spawn(timeout:_:)`` suspends while the pool has none free, so a flood of
    /// spawns keeps at most `maxPending` tasks alive. Tasks may spawn more tasks into the same
    /// scope. (The tasks are not children of a Swift task group: the runtime removes a finished
    /// child from its group in time proportional to the children still alive, which made a flood
    /// of 10^5 tasks under a bound of 10^4 spend 40% of its time there.)
    /// - Throws: the first error of `body` or of a task.
    public func withTaskScope<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (TaskScope) async throws -> Result
    ) async throws -> Result {
        let state = ScopeState()
        let scope = TaskScope(pool: self, state: state)
        return try await withTaskCancellationHandler {
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(try await body(scope))
            } catch {
                state.fail(error)
                outcome = .failure(error)
            }
            await state.waitForAll()
            if let first = state.firstError { throw first }
            return try outcome.get()
        } onCancel: {
            state.cancelAll()
        }
    }
}

/// The scope `ThreadPool.withTaskScope` passes to its body: spawns async tasks on the pool that
/// the scope waits for.
///
/// Spawn only while the scope's body runs, from the body or from the scope's own tasks.
public struct TaskScope: Sendable {
    let pool: ThreadPool
    let state: ScopeState

    /// Starts `work` as a task of this scope, once the pool has a free `maxPending` place
    /// (suspending until then).
    ///
    /// ```swift
    /// try await pool.withTaskScope { scope in
    ///     try await scope.spawn(timeout: .after(.seconds(1))) { try await ping(host) }
    /// }
    /// ```
    /// If `work` throws, the scope cancels its other tasks and rethrows the error when it ends.
    /// - Parameter timeout: how long the task may run before it is cancelled and fails with
    ///   ``ThreadPoolError/taskTimedOut(after:)`` (see ``ThreadPool/Configuration/taskTimeout``).
    /// - Throws: `CancellationError` when the scope was cancelled (by an error of one of its
    ///   tasks or of its body, by `cancelAll()`, or by its caller's cancellation): the work then
    ///   never runs. `ThreadPoolError.shutDown` when the pool is shut down.
    /// - Precondition: the scope has not ended.
    public func spawn(
        timeout: ThreadPool.TaskTimeout = .configured, _ work: @escaping @Sendable () async throws -> Void
    ) async throws {
        // The slot first: it counts the task as live (the scope waits for it) and refuses a
        // cancelled scope before any wait for a place.
        guard let slot = state.reserve() else { throw CancellationError() }
        let registry = pool.registry
        let places = registry.pendingPlaces
        do {
            // The task gives its place back itself, exactly once, as it ends (or below, if it
            // never starts): a token would need an allocation of its own to travel with it.
            try await registry.admitWaitingForRoom { place in place.keep() }
        } catch {
            state.finished(slot, failure: nil, started: false)
            throw error
        }
        if state.isCancelled {  // cancelled while this spawn waited for a place
            places.giveBackKept()
            state.finished(slot, failure: nil, started: false)
            throw CancellationError()
        }
        let limit = timeout.resolved(registry.configuration.taskTimeout)
        let state = self.state
        let task = Task(executorPreference: pool) {
            var failure: (any Error)?
            do { try await runUnderTimeout(work, limit: limit, registry: registry).get() } catch { failure = error }
            places.giveBackKept()  // before the scope can see the task end
            state.finished(slot, failure: failure)
        }
        state.attach(task, as: slot)
    }

    /// Cancels every task of the scope (they see Swift task cancellation) and stops further
    /// spawns; the scope still waits for them to end.
    public func cancelAll() { state.cancelAll() }

    /// Whether the scope was cancelled (by `cancelAll()`, an error, or its caller's cancellation).
    public var isCancelled: Bool { state.isCancelled }
}

/// What a task scope tracks: its live tasks (to cancel them and to wait for them), whether it
/// was cancelled, and its first error.
///
/// Each live task has a slot in `slots` (reused through `freeSlots`, so no hashing per task).
/// A task's handle is stored after the task was created, so a task may finish first: its slot is
/// then marked `.endedEarly`, and `attach` frees it instead of storing the handle.
final class ScopeState: @unchecked Sendable {  // every field under `lock`, but `cancelled` (atomic)
    private enum Slot {
        case reserved
        case running(Task<Void, Never>)
        case endedEarly
        case free
    }

    private let lock = FutexLock()
    private var live = 0
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    /// Set once, under `lock`; read anywhere. Relaxed: a hint for `spawn` and `isCancelled`;
    /// `reserve` and `attach` read it under the lock, which orders it with `cancelAll`.
    private let cancelled = Atomic<Bool>(false)
    private var ended = false
    private var first: (any Error)?
    private var drained: CheckedContinuation<Void, Never>?

    init() { LiveObjects.created(.taskScope) }

    deinit { LiveObjects.destroyed(.taskScope) }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    var firstError: (any Error)? { lock.withLock { first } }

    /// Counts a task about to be created and gives it a slot; nil once the scope is cancelled.
    func reserve() -> Int? {
        lock.withLock { () -> Int? in
            precondition(!ended, "TaskScope.spawn called after its withTaskScope returned")
            if cancelled.load(ordering: .relaxed) { return nil }
            live += 1
            if let slot = freeSlots.popLast() {
                slots[slot] = .reserved
                return slot
            }
            slots.append(.reserved)
            return slots.count - 1
        }
    }

    func attach(_ task: Task<Void, Never>, as slot: Int) {
        let cancelNow = lock.withLock { () -> Bool in
            if case .endedEarly = slots[slot] {
                release(slot)
                return false
            }
            slots[slot] = .running(task)
            return cancelled.load(ordering: .relaxed)
        }
        if cancelNow { task.cancel() }
    }

    /// The task in `slot` ended, with `failure` if it threw: the first error cancels the rest.
    /// `started: false`: the task was never created (its spawn failed), so nothing will attach.
    func finished(_ slot: Int, failure: (any Error)?, started: Bool = true) {
        if let failure { fail(failure) }
        let resume = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            if started, case .reserved = slots[slot] {
                slots[slot] = .endedEarly  // `attach` frees it
            } else {
                release(slot)
            }
            live -= 1
            guard live == 0, let drained else { return nil }
            self.drained = nil
            return drained
        }
        resume?.resume()
    }

    /// Under `lock`.
    private func release(_ slot: Int) {
        slots[slot] = .free
        freeSlots.append(slot)
    }

    /// Records `error` if it is the first, and cancels the scope.
    func fail(_ error: any Error) {
        lock.withLock { if first == nil { first = error } }
        cancelAll()
    }

    func cancelAll() {
        let running = lock.withLock { () -> [Task<Void, Never>] in
            cancelled.store(true, ordering: .relaxed)
            return slots.compactMap { slot in
                if case .running(let task) = slot { return task }
                return nil
            }
        }
        for task in running { task.cancel() }
    }

    /// Suspends until every task has ended; the scope accepts no spawn afterwards.
    func waitForAll() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = lock.withLock { () -> Bool in
                if live == 0 { return true }
                drained = continuation
                return false
            }
            if done { continuation.resume() }
        }
        sanitizerSeesResumption()  // the last task may end before the closure returns
        lock.withLock { ended = true }
    }
}
