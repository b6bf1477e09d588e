import Synchronization

/// `Configuration.followCPULimit`: a thread that re-reads the process's CPU limit (`CPULimit`)
/// every interval and resizes the pool when the limit has changed since the last read, so a
/// container whose quota is raised or lowered at run time keeps one worker per usable CPU.
///
/// The thread mirrors the heartbeat's (Scheduler/README.md §2, *missed stop*): it takes a ticket
/// of `wakeWord`, re-reads `stopped`, then waits on the ticket with a timeout; `requestStop`
/// stores `stopped` and then bumps the word, so a stop that lands anywhere in between ends the
/// wait at once. Only a *change* of the limit resizes: a `resize(threads:)` of your own stays
/// until the limit moves.
// @unchecked Sendable: atomics, a lock, and `started` (set before the thread starts, read after
// it is told to stop).
final class CPULimitWatcher: @unchecked Sendable {
    let source: CPULimit
    let intervalNanoseconds: Int64
    private let stopped = Atomic<Bool>(false)
    private let wakeWord = FutexWord(0)
    private let finished = OneShotEvent()
    private var started = false
    /// The limit applied last; `nil` before the first check. Also serialises checks.
    private let lastApplied = FutexLocked<Int?>(nil)

    init(source: CPULimit, intervalNanoseconds: Int64) {
        self.source = source
        self.intervalNanoseconds = intervalNanoseconds
    }

    func start(registry: Registry) {
        started = true
        spawnDetachedThread(name: threadName(prefix: registry.configuration.threadNamePrefix, suffix: "cpu")) {
            self.run(registry: registry)
        }
    }

    /// Reads the limit and resizes `registry` if it changed since the last check (or, at the
    /// first check, if it differs from the pool's width). Returns the width it asked for, if any.
    @discardableResult
    func checkNow(registry: Registry) -> Int? {
        lastApplied.withLock { last -> Int? in
            let limit = min(max(1, source.usableCores()), registry.maxWorkers)
            if let last, last == limit { return nil }
            last = limit
            if limit == registry.workerCount { return nil }
            // `.shutDown` once the pool closes: nothing left to resize.
            do { try registry.resize(to: limit) } catch { return nil }
            return limit
        }
    }

    /// Stops the thread and waits until it has finished.
    func stop() {
        guard started else { return }
        requestStop()
        finished.wait()
    }

    /// Tells the thread to stop, without waiting.
    func requestStop() {
        guard started else { return }
        stopped.store(true, ordering: .releasing)  // pairs with the loop's acquiring loads
        wakeWord.withAtomic { $0.wrappingAdd(1, ordering: .releasing) }  // pairs with the ticket load
        wakeWord.wakeAll()
    }

    private func run(registry: Registry) {
        while !stopped.load(ordering: .acquiring) {  // pairs with `requestStop`
            let ticket = wakeWord.withAtomic { $0.load(ordering: .acquiring) }
            if stopped.load(ordering: .acquiring) { break }  // a stop before the ticket (see the type)
            wakeWord.wait(whileEqualTo: ticket, timeoutNanoseconds: intervalNanoseconds)
            if stopped.load(ordering: .acquiring) { break }
            checkNow(registry: registry)
        }
        finished.set()
    }
}
