/// The pool as a Swift `TaskExecutor`: tasks that prefer it run their jobs on its workers, in
/// the background tier.

extension ThreadPool: TaskExecutor {
    /// Runs a Swift job on one of the pool's workers (background tier: after any waiting
    /// foreground work). Called by the concurrency runtime, not by you: use
    /// `Task(executorPreference: pool)` or `withTaskExecutorPreference(pool)`.
    ///
    /// ```swift
    /// let pool = try ThreadPool(threads: 4)
    /// let checksum = await Task(executorPreference: pool) { crunch(data) }.value
    /// ```
    /// Every job runs exactly once. After `shutdown`, jobs still arriving (continuations of tasks
    /// that prefer the pool) run on Swift's global concurrent executor instead: a job is never
    /// dropped. Keep the pool alive while tasks prefer it, as with any executor.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if !registry.admitExecutorJob(unowned) {
            globalConcurrentExecutor.enqueue(unowned)
        }
    }

    /// The pool as an unowned task executor reference (for the concurrency runtime).
    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        // SAFETY: the pool outlives every job the runtime enqueues on it: `shutdown` runs or cancels them before the workers stop.
        unsafe UnownedTaskExecutor(ordinary: self)
    }
}
