extension ThreadPool {
    /// The process-wide default pool: one worker per usable core (the affinity mask, capped by a
    /// cgroup CPU quota), its threads named `spindle-sh-0`, `spindle-sh-1`, …
    ///
    /// ```swift
    /// let (a, b) = ThreadPool.shared.join({ work(0) }, { work(1) })
    /// ```
    /// Perpetual: any library in the process may be using it, so nobody may stop or reshape it.
    /// `shutdown()` and `shutdown(gracePeriod:)` on it stop the program with a message saying so;
    /// `resize(threads:)` throws `ThreadPoolError.sharedPoolIsPerpetual`. Create a pool of your
    /// own to control its lifetime or width.
    public static let shared: ThreadPool = {
        do {
            return try ThreadPool(configuration: Configuration(threadNamePrefix: "spindle-sh-"), isPerpetual: true)
        } catch {
            fatalError("Spindle could not start its shared pool: \(error)")
        }
    }()

    /// The pool the current thread takes part in (as a worker, or as an outside caller during
    /// its call), else `ThreadPool.shared`: where a call without `on:` runs.
    @usableFromInline
    static var currentOrShared: ThreadPool {
        if let me = Participant.current, let pool = me.pointee.registry.pool {
            return pool
        }
        return .shared
    }
}
