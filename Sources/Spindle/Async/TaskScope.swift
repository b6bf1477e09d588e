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
    ///         try await scope.spawn { try await refresh(id) }   // waits while maxPending are alive
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
    /// The tasks are child tasks of the caller (they inherit its priority and task-local values)
    /// whose jobs run on this pool. Each holds one of the pool's `maxPending` places until it
    /// ends: ``TaskScope/spawn(timeout:_:)`` suspends while the pool has none free, so a flood
    /// of spawns keeps at most `maxPending` tasks alive.
    /// - Throws: the first error of `body` or of a task.
    public func withTaskScope<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (inout TaskScope) async throws -> Result
    ) async throws -> Result {
        let firstError = FirstError()
        do {
            return try await withThrowingDiscardingTaskGroup(returning: Result.self) { group in
                var scope = TaskScope(pool: self, group: group, firstError: firstError)
                do {
                    return try await body(&scope)
                } catch {
                    firstError.record(error)
                    throw error
                }
            }
        } catch {
            throw firstError.error ?? error
        }
    }
}

/// The scope `ThreadPool.withTaskScope` passes to its body: spawns async tasks on the pool.
///
/// Use it only inside that body, from the task that called `withTaskScope` (like a task group).
public struct TaskScope {
    let pool: ThreadPool
    /// The scope's task group (a copy of the one `withTaskScope` made: the same group).
    var group: ThrowingDiscardingTaskGroup<any Error>
    let firstError: FirstError

    /// Starts `work` as a task of this scope, once the pool has a free `maxPending` place
    /// (suspending until then).
    ///
    /// ```swift
    /// try await scope.spawn(timeout: .after(.seconds(1))) { try await ping(host) }
    /// ```
    /// If `work` throws, the scope cancels its other tasks and rethrows the error when it ends.
    /// - Parameter timeout: how long the task may run before it is cancelled and fails with
    ///   ``ThreadPoolError/taskTimedOut(after:)`` (see ``ThreadPool/Configuration/taskTimeout``).
    /// - Throws: `CancellationError` when the scope was cancelled (by an error of one of its
    ///   tasks or of its caller) or its caller's task was cancelled: the work then never runs.
    ///   `ThreadPoolError.shutDown` when the pool is shut down.
    public mutating func spawn(
        timeout: ThreadPool.TaskTimeout = .configured, _ work: @escaping @Sendable () async throws -> Void
    ) async throws {
        if group.isCancelled { throw CancellationError() }
        let registry = pool.registry
        let holder = PlaceHolder()
        try await registry.admitWaitingForRoom { place in holder.hold(place) }
        let limit = timeout.resolved(registry.configuration.taskTimeout)
        let firstError = self.firstError
        let started = group.addTaskUnlessCancelled(executorPreference: pool) {
            defer { holder.giveBack() }
            do {
                try await runScopeTask(work, limit: limit, registry: registry)
            } catch {
                firstError.record(error)
                throw error  // a discarding group cancels its other tasks on a child's error
            }
        }
        if !started {
            holder.giveBack()
            throw CancellationError()
        }
    }

    /// Cancels every task of the scope (they see Swift task cancellation) and stops further
    /// spawns; the scope still waits for them to end.
    public mutating func cancelAll() { group.cancelAll() }

    /// Whether the scope was cancelled (by `cancelAll()`, an error, or its caller's cancellation).
    public var isCancelled: Bool { group.isCancelled }
}

/// Runs one scope task's body under its timeout.
private func runScopeTask(
    _ work: @escaping @Sendable () async throws -> Void, limit: Duration?, registry: Registry
) async throws {
    guard let limit else { return try await work() }
    guard let outcome = await runCancellingAfter(limit, work) else {
        registry.timedOutTasks.wrappingAdd(1, ordering: .relaxed)  // a count
        throw ThreadPoolError.taskTimedOut(after: limit)
    }
    try outcome.get()
}

/// The first error of a scope, from its body or any of its tasks (which one was first decides
/// what the scope rethrows; the task group alone would prefer the body's).
final class FirstError: Sendable {
    private let first = Mutex<(any Error)?>(nil)

    func record(_ error: any Error) {
        first.withLock { if $0 == nil { $0 = error } }
    }

    var error: (any Error)? { first.withLock { $0 } }
}

/// One scope task's `maxPending` place, held from admission until the task ends.
// @unchecked Sendable: `place` is written by `hold` in the spawning task before the child task is
// created (task creation orders it before the child's start), then ended once by `giveBack`:
// by the child when it ends, or by the spawner when the child was never created.
final class PlaceHolder: @unchecked Sendable {
    private var place: PendingPlace?

    init() { LiveObjects.created(.scopeTaskPlace) }

    deinit { LiveObjects.destroyed(.scopeTaskPlace) }

    func hold(_ taken: consuming PendingPlace) { place = consume taken }

    /// Gives the place back.
    func giveBack() { place = nil }
}
