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
        let task = TaskState(body: work, leavePending: { registry.leavePending() })
        try registry.submitBackground(SubmittedJob(task: task))
        return TaskHandle(task: task)
    }
}
