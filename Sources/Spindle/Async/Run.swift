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
    /// runs, it runs to the end (poll `Task.isCancelled` is not available there: pass your own
    /// flag if it must stop early).
    /// - Throws: the error `work` throws; `CancellationError`; `ThreadPoolError.shutDown`.
    @concurrent
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        let handle = try await submitAwaitingCapacity(work)
        return try await handle.value
    }
}
