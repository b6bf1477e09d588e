extension ThreadPool {
    /// Whether the Swift task that the running work was started from has been cancelled.
    ///
    /// Synchronous work cannot be interrupted, but it can look: long computations poll this and
    /// stop early. It is true, on whichever thread the code runs (the caller's, or a worker that
    /// took a branch, a spawn or a piece of a loop), when:
    /// - the work runs inside `pool.run { … }` and the task awaiting that call was cancelled;
    /// - the work was started, directly or through `join`, `scope`, `broadcast` or a parallel
    ///   loop, by code running in a cancelled Swift task (a task that prefers the pool, or any
    ///   task whose thread calls the pool).
    ///
    /// ```swift
    /// let rows = try await pool.run { () -> [Int] in
    ///     var rows: [Int] = []
    ///     for row in 0..<n {
    ///         try ThreadPool.checkCancellation()   // the request was cancelled: stop early
    ///         rows.append(work(row))
    ///     }
    ///     return rows
    /// }
    /// ```
    /// Work that does not look runs to the end. Background tasks (`spawn`, `submit`) are not
    /// part of the call that submitted them: cancel them through their handle. Costs a
    /// thread-local read and a load; the first look from a worker at work of another thread's
    /// call also takes a lock once.
    public static var isCancelled: Bool {
        guard let me = Participant.current else { return Task.isCancelled }
        return me.pointee.registry.isCancelled(on: me)
    }

    /// Throws `CancellationError` when `ThreadPool.isCancelled` is true.
    ///
    /// In the body of a throwing parallel loop it stops the loop: no new piece of the range
    /// starts, the pieces already running stop at their next batch, and the loop rethrows the
    /// `CancellationError` (the loop's error rules).
    ///
    /// ```swift
    /// try await pool.run {
    ///     try files.parallel.forEach { file in
    ///         try ThreadPool.checkCancellation()
    ///         _ = checksum(file)
    ///     }
    /// }
    /// ```
    public static func checkCancellation() throws(CancellationError) {
        if isCancelled { throw CancellationError() }
    }
}
