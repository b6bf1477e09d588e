import Synchronization

/// A multi-producer, multi-consumer FIFO (of `JobRef`s, for the scheduler) behind a `FutexLock`, with a lock-free
/// emptiness hint so that idle scans do not take the lock.
///
/// Used for work that has no owning deque: background tasks, foreground jobs handed in from
/// threads that are not participants, jobs a blocked participant gave back, broadcast inboxes.
final class Injector<Element>: @unchecked Sendable {  // `items` is only touched under `lock`
    private let lock = FutexLock()
    private var items = FIFOQueue<Element>()
    /// Count of queued items; written under the lock, read without it as a hint.
    private let queued = Atomic<Int>(0)
    /// Keeps the next object's fields off this one's lines (shards of a `ShardedInjector` are
    /// allocated one after another).
    private let padding = CacheLinePad()

    func push(_ job: Element) {
        lock.withLock {
            items.append(job)
            queued.store(items.count, ordering: .releasing)  // hint only; the lock orders data
        }
    }

    func pop() -> Element? {
        if queued.load(ordering: .relaxed) == 0 { return nil }
        return lock.withLock { () -> Element? in
            let job = items.removeFirst()
            queued.store(items.count, ordering: .relaxed)  // hint only
            return job
        }
    }

    /// Removes and returns the oldest job for which `matches` is true; `matches` runs under the lock.
    func pop(where matches: (Element) -> Bool) -> Element? {
        if queued.load(ordering: .relaxed) == 0 { return nil }
        return lock.withLock { () -> Element? in
            let job = items.removeFirst(where: matches)
            queued.store(items.count, ordering: .relaxed)  // hint only
            return job
        }
    }

    var count: Int { queued.load(ordering: .relaxed) }

    var isEmpty: Bool { queued.load(ordering: .relaxed) == 0 }
}
