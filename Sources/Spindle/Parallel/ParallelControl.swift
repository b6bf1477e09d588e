import Synchronization

/// What the threads of one parallel loop share: whether to stop, the lowest (or highest) position
/// found by a search, and the first error thrown.
///
/// States: running → stopped (an error, or a `contains`-style hit: every range stops at its next
/// batch). `firstHit` only decreases; a range whose start lies beyond it stops, ranges before it
/// go on (a lower hit may still be there). `lastHit` (for `last(where:)`) only increases; a
/// range that ends at or before it stops, ranges after it go on. Stopping is a hint read relaxed: a thread that misses
/// it does a little extra work, never wrong work, because results are combined by position.
/// The error is written under `lock` and read after the loop has joined every range (the joins'
/// release/acquire order the write before the read).
@usableFromInline
final class _ParallelControl: @unchecked Sendable {  // `error` is guarded by `lock`; the rest is atomic
    @usableFromInline let stopped = Atomic<Bool>(false)
    @usableFromInline let firstHit = Atomic<Int>(Int.max)
    @usableFromInline let lastHit = Atomic<Int>(Int.min)
    private let lock = FutexLock()
    private var error: (any Error)?

    @inlinable
    init() {}

    /// Whether a range that would go on with `positions` should stop.
    @inlinable
    func shouldStop(at positions: Range<Int>) -> Bool {
        // Relaxed: a hint (see the type's comment); the result does not depend on seeing it.
        stopped.load(ordering: .relaxed) || firstHit.load(ordering: .relaxed) < positions.lowerBound
            || lastHit.load(ordering: .relaxed) >= positions.upperBound
    }

    /// Tells every range to stop at its next batch.
    @inlinable
    func stop() {
        stopped.store(true, ordering: .relaxed)  // a hint; pairs with the relaxed loads above
    }

    /// Records a search hit at `position`; keeps the lowest.
    @inlinable
    func recordHit(at position: Int) {
        var current = firstHit.load(ordering: .relaxed)
        while position < current {
            // Relaxed: the hit's element travels in the loop's partial results, not through here.
            let (exchanged, seen) = firstHit.compareExchange(expected: current, desired: position, ordering: .relaxed)
            if exchanged { return }
            current = seen
        }
    }

    /// Records a backward search hit at `position`; keeps the highest.
    @inlinable
    func recordLastHit(at position: Int) {
        var current = lastHit.load(ordering: .relaxed)
        while position > current {
            // Relaxed: as in `recordHit`, the element travels in the partial results.
            let (exchanged, seen) = lastHit.compareExchange(expected: current, desired: position, ordering: .relaxed)
            if exchanged { return }
            current = seen
        }
    }

    /// Records `error` if it is the first, and stops the loop.
    @usableFromInline
    func fail(_ error: any Error) {
        lock.withLock {
            if self.error == nil { self.error = error }
        }
        stop()
        #if DEBUG
            _LoopTestHooks.loopStopped(by: error)
        #endif
    }

    /// Throws the recorded error, if any (after the loop has finished).
    @inlinable
    func rethrow<E: Error>(as _: E.Type) throws(E) {
        // Nothing of type Never can have been recorded: no lock for a loop that cannot fail.
        if E.self == Never.self { return }
        if let error = recordedError {
            // Only errors of type E are recorded: a terminal's closure throws E, and its
            // pipeline's stages throw nothing (`Failure == Never`) or E is `any Error` (the
            // terminals of a pipeline with a throwing stage).
            throw error as! E
        }
    }

    @usableFromInline
    var recordedError: (any Error)? {
        lock.withLock { error }
    }
}

#if DEBUG
    /// Test hooks of parallel loops (debug builds only).
    enum _LoopTestHooks {
        /// Called by a failing loop, on the thread whose error stopped it, once the stop is
        /// stored: a test's elements can wait for that moment instead of racing with it.
        private static let observers = Mutex<[UInt64: @Sendable (any Error) -> Void]>([:])
        private static let nextKey = Atomic<UInt64>(0)

        /// Runs `body` with `observer` told of every loop error (of any test) until it returns.
        @discardableResult
        static func observingStops<R>(_ observer: @escaping @Sendable (any Error) -> Void, _ body: () throws -> R) rethrows -> R {
            // Relaxed: a unique key is all that is needed; the dictionary is under its mutex.
            let key = nextKey.wrappingAdd(1, ordering: .relaxed).newValue
            observers.withLock { $0[key] = observer }
            defer { _ = observers.withLock { $0.removeValue(forKey: key) } }
            return try body()
        }

        static func loopStopped(by error: any Error) {
            for observer in observers.withLock({ Array($0.values) }) { observer(error) }
        }
    }
#endif
