extension ThreadPool {
    /// Runs `body`, which is about to block (a system call, a lock, a synchronous wait on
    /// something outside the pool), and lends the pool a spare worker meanwhile, so that the
    /// pool's other work keeps all of its threads (as Java's `ForkJoinPool.managedBlock`).
    ///
    /// ```swift
    /// try pool.spawn {
    ///     let data = pool.blocking { try? Data(contentsOf: url) }  // a worker waits on the disk
    ///     process(data)                                           // CPU work goes on meanwhile
    /// }
    /// ```
    ///
    /// - On one of this pool's workers: for as long as `body` runs, the pool counts the worker as
    ///   blocked and starts a spare worker if fewer spares are out than workers are blocked, up to
    ///   ``Configuration/maxSpareThreads`` (by default as many as `threads`). A spare that no
    ///   blocked worker needs any more goes away after ``Configuration/spareThreadIdleTimeout``
    ///   without work; until then it serves the pool as any worker does.
    /// - On any other thread (an outside caller, a worker of another pool): `body` just runs, since
    ///   no worker of this pool is lost.
    ///
    /// Starting a spare costs a thread start (tens of microseconds) unless an idle one is still
    /// there, so keep `blocking` for waits that are long against that, not for every lock.
    /// `body` runs on the calling thread and may throw; the section ends however it leaves.
    public func blocking<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        guard let me = Participant.current(in: registryID), me.pointee.isWorker else { return try body() }
        registry.enterBlockingSection()
        defer { registry.exitBlockingSection() }
        return try body()
    }
}

/// `blocking` on the pool of the current worker; on any other thread, just `body()`.
///
/// ```swift
/// let line = Spindle.blocking { readLine() }
/// ```
public func blocking<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    guard let me = Participant.current, me.pointee.isWorker, let pool = me.pointee.registry.pool else { return try body() }
    return try pool.blocking(body)
}
