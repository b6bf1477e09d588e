import Synchronization

/// Sleep and wake-up of idle workers, with no system call when nobody sleeps.
///
/// A worker about to sleep: reads the epoch (`ticket`), increments `sleepers`, issues a
/// sequentially consistent fence, searches for work once more, and only then waits on the epoch.
/// A producer: publishes its job (a releasing store), issues a sequentially consistent fence,
/// and loads `sleepers`; only when it is non-zero does it bump the epoch and call futex wake.
/// The two fences make the pair a Dekker handshake: either the sleeper's last search sees the
/// job, or the producer sees the sleeper and wakes it; the epoch makes a wake that lands between
/// the sleeper's search and its wait return at once.
final class WorkerSleepState: @unchecked Sendable {  // all state is atomic
    private let sleepers = Atomic<Int>(0)
    private let epoch = FutexWord(0)

    deinit { epoch.deallocate() }

    var sleepingCount: Int { sleepers.load(ordering: .relaxed) }

    /// Producer side, after a job became visible.
    func notifyWorkAvailable(count: Int32 = 1) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `prepareToSleep`
        if sleepers.load(ordering: .relaxed) > 0 {
            epoch.atomic.pointee.wrappingAdd(1, ordering: .releasing)  // pairs with `prepareToSleep`'s load
            epoch.wake(count)
        }
    }

    func wakeAll() {
        epoch.atomic.pointee.wrappingAdd(1, ordering: .releasing)  // pairs with `prepareToSleep`'s load
        epoch.wakeAll()
    }

    /// Sleeper side, step 1: returns the ticket to sleep on. The caller must search for work once
    /// more after this, then call `sleep(ticket:)` or `cancelSleep()`.
    func prepareToSleep() -> UInt32 {
        let ticket = epoch.atomic.pointee.load(ordering: .acquiring)  // pairs with the producers' increments
        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `notifyWorkAvailable`
        return ticket
    }

    func cancelSleep() {
        sleepers.wrappingSubtract(1, ordering: .relaxed)  // a count; the fence above did the ordering
    }

    func sleep(ticket: UInt32) {
        epoch.wait(whileEqualTo: ticket)
        sleepers.wrappingSubtract(1, ordering: .relaxed)
    }
}
