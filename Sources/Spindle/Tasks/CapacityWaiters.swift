import Synchronization

/// Async submitters suspended at `maxPending`, each waiting for a place to be given back.
///
/// Protocol with `Registry.leavePending` (no lost wake-up): a submitter *registers first*
/// (`count` incremented, sequentially consistent) and *then* reads the pending count; a task that
/// leaves `pending` *first* decrements the pending count and *then* reads `count` (both
/// sequentially consistent). Whatever the interleaving, either the submitter sees the freed
/// place, or the leaver sees the registered submitter and resumes it. A resumed submitter tries
/// admission again: another one may have taken the place first.
final class CapacityWaiters: @unchecked Sendable {  // `waiters` and `nextID` are guarded by `lock`; `count` is atomic
    private let lock = FutexLock()
    private var waiters: [Int: CheckedContinuation<Bool, any Error>] = [:]
    private var nextID = 0
    private let count = Atomic<Int>(0)

    /// Whether no submitter is waiting (a hint, for tests and metrics).
    var isEmpty: Bool { count.load(ordering: .sequentiallyConsistent) == 0 }

    func makeID() -> Int {
        lock.withLock {
            nextID += 1
            return nextID
        }
    }

    /// Adds a waiter, to be resumed with `false` ("try again") or an error.
    func register(_ id: Int, _ continuation: CheckedContinuation<Bool, any Error>) {
        lock.withLock { waiters[id] = continuation }
        count.wrappingAdd(1, ordering: .sequentiallyConsistent)  // before the submitter's read of the pending count
    }

    /// Removes waiter `id` if it is still registered (not already resumed); says whether it was.
    func remove(_ id: Int) -> Bool {
        let removed = lock.withLock { waiters.removeValue(forKey: id) != nil }
        if removed { count.wrappingSubtract(1, ordering: .sequentiallyConsistent) }  // a count; see the type's comment
        return removed
    }

    /// A place was given back: resumes one waiter to try again, if any. Cheap when nobody waits.
    func wakeOne() {
        // Sequentially consistent: after the leaver's decrement of the pending count (see above).
        guard count.load(ordering: .sequentiallyConsistent) > 0 else { return }
        let continuation = lock.withLock { () -> CheckedContinuation<Bool, any Error>? in
            guard let id = waiters.keys.min() else { return nil }  // the oldest waiter first
            return waiters.removeValue(forKey: id)
        }
        guard let continuation else { return }
        count.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        continuation.resume(returning: false)
    }

    /// Ends waiter `id` with `CancellationError` if it is still waiting.
    func cancel(_ id: Int) {
        let continuation = lock.withLock { waiters.removeValue(forKey: id) }
        guard let continuation else { return }
        count.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        continuation.resume(throwing: CancellationError())
    }

    /// Ends every waiter with `error` (shutdown).
    func failAll(with error: any Error) {
        let all = lock.withLock { () -> [CheckedContinuation<Bool, any Error>] in
            let all = Array(waiters.values)
            waiters.removeAll()
            return all
        }
        count.wrappingSubtract(all.count, ordering: .sequentiallyConsistent)
        for continuation in all { continuation.resume(throwing: error) }
    }
}
