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
        try registry.submitBackground(ClosureJob(family: 0, isBackground: true, work))
    }

    /// Queues `work` as a background task and returns a handle to its result.
    ///
    /// ```swift
    /// let handle = try pool.submit { checksum(file) }
    /// let sum = try handle.wait()
    /// ```
    /// - Throws: `ThreadPoolError.shutDown` after shutdown; `.saturated` at `maxPending`.
    public func submit<T: Sendable>(_ work: @escaping @Sendable () throws -> T) throws(ThreadPoolError) -> TaskHandle<T> {
        let registry = self.registry
        let task = TaskState(body: work, registry: registry)
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
        try await registry.submitBackgroundWaitingForRoom(ClosureJob(family: 0, isBackground: true, work))
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
        let task = TaskState(body: work, registry: registry)
        try await registry.submitBackgroundWaitingForRoom(SubmittedJob(task: task))
        return TaskHandle(task: task)
    }
}
