import CSpindle
import Synchronization

/// A small mutex whose acquire is a user-space compare-and-swap; the futex is only used to sleep.
///
/// `Synchronization.Mutex` is a priority-inheritance futex on Linux, whose kernel-side hand-off
/// the thread sanitizer cannot see; this lock's every hand-off is an atomic the sanitizer models.
/// States: 0 unlocked, 1 locked, 2 locked with possible sleepers (Drepper, "Futexes are tricky").
final class FutexLock: @unchecked Sendable {  // all state is behind the atomic word
    private let word = FutexWord(0)

    // SAFETY: the lock is being destroyed, so no thread holds or waits on it.
    deinit { unsafe word.deallocate() }

    func lock() {
        // Acquiring: pairs with the releasing store/exchange in `unlock()`.
        let took = word.withAtomic { $0.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged }
        if took { return }
        lockSlow()
    }

    private func lockSlow() {
        for _ in 0..<64 {
            let took = word.withAtomic {
                $0.load(ordering: .relaxed) == 0 && $0.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
            }
            if took { return }
            spindle_cpu_relax()
        }
        // Acquiring exchange: pairs with `unlock()`; state 2 tells the holder to wake us.
        while word.withAtomic({ $0.exchange(2, ordering: .acquiring) }) != 0 {
            word.wait(whileEqualTo: 2)
        }
    }

    func unlock() {
        // Releasing: publishes the critical section to the next acquirer.
        if word.withAtomic({ $0.exchange(0, ordering: .releasing) }) == 2 {
            word.wake(1)
        }
    }

    @inline(__always)
    func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A value behind a `FutexLock` (instead of `Synchronization.Mutex`, whose hand-offs the thread
/// sanitizer cannot see: see `FutexLock`).
final class FutexLocked<Value>: @unchecked Sendable {  // `value` is only touched under `lock`
    private let lock = FutexLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try lock.withLock { () throws(E) -> R in try body(&value) }
    }
}
