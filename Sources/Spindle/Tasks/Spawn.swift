extension ThreadPool {
    /// Queues `work` as a background task and returns at once.
    ///
    /// Background work runs only when no foreground work (joins, scopes, parallel loops) is
    /// waiting. Nothing accepted is dropped: `shutdown()` runs it before the workers exit.
    ///
    /// ```swift
    /// try pool.spawn { writeLog(entry) }
    /// ```
    /// - Throws: `ThreadPoolError.shutDown` after shutdown; `.saturated` when `maxPending` jobs
    ///   are already waiting.
    public func spawn(_ work: @escaping @Sendable () -> Void) throws(ThreadPoolError) {
        try spawn(timeout: .configured, work)
    }

    /// Queues `work` as a background task with a timeout of its own. A synchronous task cannot be
    /// stopped: one that runs longer is counted in ``Metrics/timedOutTasks`` (see
    /// ``Configuration/taskTimeout``).
    ///
    /// ```swift
    /// try pool.spawn(timeout: .after(.milliseconds(100))) { refreshCache() }
    /// ```
    /// - Throws: as `spawn(_:)`.
    public func spawn(timeout: TaskTimeout, _ work: @escaping @Sendable () -> Void) throws(ThreadPoolError) {
        try registry.submitBackground(ClosureJob(family: 0, isBackground: true, timed(work, timeout)))
    }

    /// Queues `work` as a background task and returns a handle to its result.
    ///
    /// ```swift
    /// let handle = try pool.submit { checksum(file) }
    /// let sum = try handle.wait()
    /// ```
    /// - Throws: `ThreadPoolError.shutDown` after shutdown; `.saturated` at `maxPending`.
    public func submit<T: Sendable>(_ work: @escaping @Sendable () throws -> T) throws(ThreadPoolError) -> TaskHandle<T> {
        try submit(timeout: .configured, work)
    }

    /// Queues `work` as a background task with a timeout of its own and returns a handle to its
    /// result. The task runs to its end (its handle gets its real outcome); running longer than
    /// the timeout is counted in ``Metrics/timedOutTasks``.
    ///
    /// ```swift
    /// let handle = try pool.submit(timeout: .after(.seconds(1))) { checksum(file) }
    /// ```
    /// - Throws: as `submit(_:)`.
    public func submit<T: Sendable>(
        timeout: TaskTimeout, _ work: @escaping @Sendable () throws -> T
    ) throws(ThreadPoolError) -> TaskHandle<T> {
        let registry = self.registry
        let task = TaskState(body: work, registry: registry, timeout: timeout.resolved(registry.configuration.taskTimeout))
        try registry.submitBackground(SubmittedJob(task: task))
        return TaskHandle(task: task)
    }

    /// Queues `work` as a background task, first waiting (suspended, not blocking a thread) while
    /// `maxPending` tasks are already waiting to start. Without `maxPending`, the same as `spawn`.
    ///
    /// ```swift
    /// for request in requests {
    ///     try await pool.spawnAwaitingCapacity { serve(request) }   // backpressure, no `.saturated`
    /// }
    /// ```
    /// - Throws: `ThreadPoolError.shutDown` if the pool is or gets shut down before the task is
    ///   accepted; `CancellationError` if the awaiting task is cancelled first (the work then
    ///   never runs).
    public func spawnAwaitingCapacity(_ work: @escaping @Sendable () -> Void) async throws {
        try await registry.submitBackgroundWaitingForRoom(
            ClosureJob(family: 0, isBackground: true, timed(work, .configured)))
    }

    /// Queues `work` as a background task and returns a handle to its result, first waiting
    /// (suspended) while `maxPending` tasks are already waiting to start.
    ///
    /// ```swift
    /// let handle = try await pool.submitAwaitingCapacity { render(tile) }
    /// let image = try await handle.value
    /// ```
    /// - Throws: as `spawnAwaitingCapacity(_:)`.
    public func submitAwaitingCapacity<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> TaskHandle<T> {
        let registry = self.registry
        let task = TaskState(body: work, registry: registry, timeout: registry.configuration.taskTimeout)
        try await registry.submitBackgroundWaitingForRoom(SubmittedJob(task: task))
        return TaskHandle(task: task)
    }

    /// `work`, counted in `timedOutTasks` when it runs longer than its timeout (if it has one).
    private func timed(_ work: @escaping @Sendable () -> Void, _ timeout: TaskTimeout) -> @Sendable () -> Void {
        guard let limit = timeout.resolved(registry.configuration.taskTimeout)?.nanosecondsClamped else { return work }
        let registry = self.registry
        return {
            let started = monotonicNanoseconds()
            work()
            if monotonicNanoseconds() - started > limit {
                registry.timedOutTasks.wrappingAdd(1, ordering: .relaxed)  // a count
            }
        }
    }
}

/// `spawn` on the pool of the current worker, or on `ThreadPool.shared` from any other thread:
/// a background task, fire and forget.
///
/// ```swift
/// import Spindle
/// try Spindle.spawn { writeLog(entry) }
/// ```
/// - Throws: as ``ThreadPool/spawn(_:)``.
public func spawn(_ work: @escaping @Sendable () -> Void) throws(ThreadPoolError) {
    try ThreadPool.currentOrShared.spawn(work)
}
