import Synchronization

/// Async submitters waiting for a free place in a `PendingPlaces`, served oldest first.
///
/// Protocol with `PendingPlaces.giveBack` (no lost wake-up): a submitter *registers first*
/// (`count` incremented, sequentially consistent) and *then* reads the taken count; a place given
/// back *first* decrements the taken count and *then* reads `count` (both sequentially
/// consistent). Whatever the interleaving, either the submitter sees the freed place, or the
/// giver sees the registered submitter and resumes it. A resumed submitter tries admission again:
/// another one may have taken the place first.
///
/// A cancellation may arrive before its waiter registered (the cancellation handler runs as soon
/// as the task is cancelled): `cancel` then leaves a tombstone, and `register` refuses that id, so
/// the cancelled submitter never sleeps beside its cancellation.
final class CapacityWaiters: @unchecked Sendable {  // everything but `count` is guarded by `lock`; `count` is atomic
    private let lock = FutexLock()
    /// Waiting continuations by id.
    private var waiters: [Int: CheckedContinuation<Bool, any Error>] = [:]
    /// Ids in registration order; ids no longer in `waiters` are skipped.
    private var order = FIFOQueue<Int>()
    /// Ids cancelled before they registered.
    private var cancelledEarly: Set<Int> = []
    private var nextID = 0
    private let count = Atomic<Int>(0)

    /// Whether no submitter is waiting (a hint, for tests and metrics).
    var isEmpty: Bool { waitingCount == 0 }

    /// How many submitters are registered and not yet resumed (a hint, for tests and metrics).
    var waitingCount: Int { count.load(ordering: .sequentiallyConsistent) }

    func makeID() -> Int {
        lock.withLock {
            nextID += 1
            return nextID
        }
    }

    /// Adds a waiter, to be resumed with `false` ("try again") or an error. Returns false, and
    /// registers nothing, when `cancel(id)` came first: the caller then ends with
    /// `CancellationError`.
    func register(_ id: Int, _ continuation: CheckedContinuation<Bool, any Error>) -> Bool {
        let registered = lock.withLock { () -> Bool in
            if cancelledEarly.remove(id) != nil { return false }
            waiters[id] = continuation
            order.append(id)
            return true
        }
        if registered {
            count.wrappingAdd(1, ordering: .sequentiallyConsistent)  // before the submitter's read of the taken count
        }
        return registered
    }

    /// Removes waiter `id` if it is still registered (not already resumed); says whether it was.
    func remove(_ id: Int) -> Bool {
        let removed = lock.withLock { waiters.removeValue(forKey: id) != nil }
        if removed { count.wrappingSubtract(1, ordering: .sequentiallyConsistent) }  // a count; see the type's comment
        return removed
    }

    /// A place was given back: resumes the oldest waiter to try again, if any. Cheap when
    /// nobody waits; amortised O(1) otherwise.
    func wakeOne() {
        // Sequentially consistent: after the giver's decrement of the taken count (see above).
        guard count.load(ordering: .sequentiallyConsistent) > 0 else { return }
        let continuation = lock.withLock { () -> CheckedContinuation<Bool, any Error>? in
            while let id = order.removeFirst() {
                if let waiter = waiters.removeValue(forKey: id) { return waiter }
            }
            return nil
        }
        guard let continuation else { return }
        count.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        continuation.resume(returning: false)
    }

    /// Ends waiter `id` with `CancellationError` if it is waiting, or makes its registration
    /// fail if it has not registered yet.
    func cancel(_ id: Int) {
        let continuation = lock.withLock { () -> CheckedContinuation<Bool, any Error>? in
            if let waiter = waiters.removeValue(forKey: id) { return waiter }
            cancelledEarly.insert(id)
            return nil
        }
        guard let continuation else { return }
        count.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        continuation.resume(throwing: CancellationError())
    }

    /// Forgets a tombstone `cancel(id)` left for a submitter that then did not register
    /// (admitted at once, or the pool closed).
    func forget(_ id: Int) {
        _ = lock.withLock { cancelledEarly.remove(id) }
    }

    /// Ends every waiter with `error` (shutdown).
    func failAll(with error: any Error) {
        let all = lock.withLock { () -> [CheckedContinuation<Bool, any Error>] in
            let all = Array(waiters.values)
            waiters.removeAll()
            order.removeAll()
            return all
        }
        count.wrappingSubtract(all.count, ordering: .sequentiallyConsistent)
        for continuation in all { continuation.resume(throwing: error) }
    }
}
