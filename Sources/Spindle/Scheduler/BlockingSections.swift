import Synchronization

/// Blocking sections (`ThreadPool.blocking`): a worker about to block in a system call or a
/// lock says so, and the pool lends a spare worker for the duration, so that CPU work does not
/// wait behind blocked threads (Java's `ForkJoinPool.managedBlock`, tokio's `block_in_place`).
///
/// Protocol, all under `lifecycleLock`:
/// - *Enter*: `blockedWorkers += 1`; if fewer spares were started than workers are blocked,
///   and fewer than the cap, the next slot is put to work (`activateSlot`: a new thread, or a
///   retiring one called back) and `sparesStarted += 1`.
/// - *Exit*: `blockedWorkers -= 1`. Nothing retires at once: a section that ends is often
///   followed by another, and a thread start costs tens of microseconds. With a spare now in
///   surplus, the highest active worker is unparked once (it may have parked untimed while every
///   spare was needed), so that it parks again with the timeout.
/// - *Idle spare*: a worker about to park while `surplus > 0` (mirrored in `spareSurplus`) and
///   while it is the highest active slot parks with the idle timeout. If it wakes still listed
///   as a sleeper (nobody chose it: the timeout, or a spurious wake-up), it retires its slot
///   through the same path as a shrinking `resize`, if under the lock it still is the highest
///   active slot and there still is a surplus, and then unparks the slot below, which parks
///   again the same way. A worker a producer chose never retires on that wake-up, so no
///   notification is used up (Scheduler/README.md §1).
/// - An explicit `resize(threads:)` sets the width outright and forgets the spares.
struct BlockingSections {
    var blockedWorkers = 0
    var sparesStarted = 0

    /// Spares that no blocked worker needs any more.
    var surplus: Int { Swift.max(0, sparesStarted - blockedWorkers) }
}

extension Registry {
    /// A worker of this pool enters a blocking section: see `BlockingSections`.
    func enterBlockingSection() {
        let activated = lifecycleLock.withLock { () -> Bool in
            blockingSections.blockedWorkers += 1
            defer { spareSurplus.store(blockingSections.surplus, ordering: .relaxed) }  // a hint (see the property)
            let cap = configuration.maxSpareThreads ?? configuration.threads
            let next = activeWorkers.load(ordering: .relaxed)
            guard lifecycle.phase == .running, blockingSections.sparesStarted < blockingSections.blockedWorkers,
                blockingSections.sparesStarted < cap, next < maxWorkers
            else { return false }
            // A refused thread leaves the pool as it is: the section still runs, uncompensated.
            do { try activateSlot(next) } catch { return false }
            blockingSections.sparesStarted += 1
            return true
        }
        if activated { noteSlotsChanged() }  // a called-back retirement someone may wait for
    }

    /// The worker's blocking section has ended.
    ///
    /// If that leaves a spare in surplus, the highest active worker is unparked once: it may
    /// have parked untimed while the spares were all needed, and parks again with the timeout.
    func exitBlockingSection() {
        let highest = lifecycleLock.withLock { () -> Int? in
            blockingSections.blockedWorkers -= 1
            spareSurplus.store(blockingSections.surplus, ordering: .relaxed)  // a hint (see the property)
            return blockingSections.surplus > 0 && lifecycle.phase == .running ? activeWorkers.load(ordering: .relaxed) - 1 : nil
        }
        if let highest { participant(at: highest).pointee.parker.unpark() }
    }

    /// Whether worker `index`, about to park, should park only for the idle timeout: it is the
    /// highest active slot while spares are in surplus. A hint, re-checked by `retireIdleSpare`.
    func mayRetireAsIdleSpare(_ index: Int) -> Bool {
        spareSurplus.load(ordering: .relaxed) > 0 && index == activeWorkers.load(ordering: .relaxed) - 1
    }

    /// Worker `index` was idle for the timeout: retires its slot if it still is the highest
    /// active one and spares are still in surplus. The worker loop's retirement check then
    /// takes it out, as after a shrinking `resize`.
    ///
    /// With spares still in surplus, the worker below (now the highest) is unparked once, so
    /// that it too parks again with the timeout rather than untimed.
    func retireIdleSpare(_ index: Int) -> Bool {
        let (retired, moreSurplus) = lifecycleLock.withLock { () -> (Bool, Bool) in
            guard lifecycle.phase == .running, blockingSections.surplus > 0, index == activeWorkers.load(ordering: .relaxed) - 1,
                lifecycle.slots[index].state == .running
            else { return (false, false) }
            retireHighestSlot(index)
            blockingSections.sparesStarted -= 1
            spareSurplus.store(blockingSections.surplus, ordering: .relaxed)  // a hint (see the property)
            return (true, blockingSections.surplus > 0 && index > 0)
        }
        // Still listed as a sleeper, it finds itself not chosen, searches, and parks again.
        if moreSurplus { participant(at: index - 1).pointee.parker.unpark() }
        return retired
    }
}
