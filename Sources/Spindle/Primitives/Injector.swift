import Synchronization

/// A multi-producer, multi-consumer FIFO (of `JobRef`s, for the scheduler) behind a `FutexLock`, with a lock-free
/// emptiness hint so that idle scans do not take the lock.
///
/// Used for work that has no owning deque: background tasks, foreground jobs handed in from
/// threads that are not participants, jobs a blocked participant gave back, broadcast inboxes.
final class Injector<Element>: @unchecked Sendable {  // `items` is only touched under `lock`
    private let lock = FutexLock()
    private var items: [Element] = []
    private var head = 0
    /// Count of queued items; written under the lock, read without it as a hint.
    private let queued = Atomic<Int>(0)

    func push(_ job: Element) {
        lock.withLock {
            items.append(job)
            queued.store(items.count - head, ordering: .releasing)  // hint only; the lock orders data
        }
    }

    func pop() -> Element? {
        if queued.load(ordering: .relaxed) == 0 { return nil }
        return lock.withLock { () -> Element? in
            guard head < items.count else { return nil }
            let job = items[head]
            head += 1
            compactIfNeeded()
            queued.store(items.count - head, ordering: .relaxed)
            return job
        }
    }

    /// Removes and returns the oldest job for which `matches` is true; `matches` runs under the lock.
    func pop(where matches: (Element) -> Bool) -> Element? {
        if queued.load(ordering: .relaxed) == 0 { return nil }
        return lock.withLock { () -> Element? in
            var i = head
            while i < items.count {
                if matches(items[i]) {
                    let job = items[i]
                    items.remove(at: i)
                    queued.store(items.count - head, ordering: .relaxed)
                    return job
                }
                i += 1
            }
            return nil
        }
    }

    var count: Int { queued.load(ordering: .relaxed) }

    var isEmpty: Bool { queued.load(ordering: .relaxed) == 0 }

    private func compactIfNeeded() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
