extension ThreadPool {
    /// Runs `body` as part of this pool: joins, scopes and parallel loops inside it use this pool
    /// (also through `Spindle.join`), and the calling thread takes part in them.
    ///
    /// From a worker of this pool, `body` simply runs. From any other thread, the thread becomes a
    /// temporary participant for the duration of `body` — no hand-off to a worker, no context
    /// switch.
    ///
    /// ```swift
    /// let total = pool.install { Spindle.join({ sum(firstHalf) }, { sum(secondHalf) }) }
    /// ```
    public func install<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        try _withParticipant { (_) throws(E) in try body() }
    }
}
