extension ThreadPool {
    /// What `yieldNow()` and `yieldLocal()` did.
    public enum YieldOutcome: Sendable, Equatable {
        /// One pending job ran on the calling worker.
        case ranJob
        /// The calling worker found no pending job it may run.
        case noJobWaiting
        /// The caller is not a worker of any pool: nothing was looked for.
        case notOnWorker
    }

    /// From inside a worker: runs one pending job related to the current work (this worker's own
    /// queue first, then other workers' queues, for jobs of the same call), and says whether it
    /// did. Lets a long-running job make room for work that waits on it.
    ///
    /// ```swift
    /// while !ready.load(ordering: .acquiring) {
    ///     if ThreadPool.yieldNow() != .ranJob { spinBriefly() }
    /// }
    /// ```
    /// From any other thread it does nothing and returns `.notOnWorker`.
    @discardableResult
    public static func yieldNow() -> YieldOutcome {
        guard let me = Participant.current, me.pointee.isWorker else { return .notOnWorker }
        let registry = me.pointee.registry
        guard let job = registry.findRelatedWork(for: me, hint: -1) else { return .noJobWaiting }
        registry.execute(job, on: me)
        return .ranJob
    }

    /// From inside a worker: runs one job from this worker's own queues only (its deque, then its
    /// inbox), and says whether it did. Never touches other workers' queues.
    ///
    /// ```swift
    /// for chunk in chunks {
    ///     process(chunk)
    ///     ThreadPool.yieldLocal()   // let this worker's queued pieces make progress
    /// }
    /// ```
    /// From any other thread it does nothing and returns `.notOnWorker`.
    @discardableResult
    public static func yieldLocal() -> YieldOutcome {
        guard let me = Participant.current, me.pointee.isWorker else { return .notOnWorker }
        let registry = me.pointee.registry
        guard let job = me.pointee.deque.pop() ?? me.pointee.inbox.pop() else { return .noJobWaiting }
        registry.execute(job, on: me)
        return .ranJob
    }
}
