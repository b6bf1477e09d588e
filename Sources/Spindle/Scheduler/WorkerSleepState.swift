import Synchronization

/// Sleep and wake-up of idle workers, with no system call when nobody sleeps and one wake-up per
/// notification at most. Protocol and interleavings: Scheduler/README.md §1.
///
/// Each sleeping worker parks on its own `Parker` and is listed in `sleepers` (under `lock`);
/// `sleeperCount` mirrors the list's length for a lock-free check.
///
/// A worker about to sleep (`prepareToSleep`): takes its parker's ticket, lists itself,
/// issues a sequentially consistent fence, and searches for work once more; only then does it
/// park (`sleep`). A producer (`notifyWorkAvailable`): publishes its job (a releasing store),
/// issues a sequentially consistent fence, and loads `sleeperCount`; only when it is non-zero
/// does it take the lock, *remove* one sleeper from the list and unpark it. The two fences make
/// the pair a Dekker handshake: either the sleeper's last search sees the job, or the producer
/// sees the sleeper. Removing the sleeper before unparking it means the next notification goes
/// to another sleeper instead of issuing a second wake-up for the same one.
final class WorkerSleepState: @unchecked Sendable {  // `sleepers` is guarded by `lock`; the rest is atomic
    private let lock = FutexLock()
    private var sleepers: [LivePointer<Participant>] = []
    private let sleeperCount = Atomic<Int>(0)
    /// Workers that are awake, out of work and looking for some: from a failed search until they
    /// find a job or list themselves as sleepers. A notification leaves as many jobs to them as
    /// there are, instead of waking a sleeper for each (README §1, *searching worker*).
    /// Relaxed: the fences of `notifyWorkAvailable` and `prepareToSleep`/`stoppedSearchingWithWork`
    /// order it; a stale count errs towards one wake-up too many, never too few.
    private let searcherCount = Atomic<Int>(0)

    /// A racy look at the sleeper count (relaxed): only for wake-ups that are hints.
    var mayHaveSleepers: Bool { sleeperCount.load(ordering: .relaxed) > 0 }

    /// Workers on the sleepers list: each parks without a timeout until work is published (a
    /// hint, for tests of an idle pool).
    var sleepingCount: Int { sleeperCount.load(ordering: .relaxed) }

    /// For diagnostics (a stalled stress run): the listed sleepers' indices and the searcher count.
    var diagnosticState: (sleepers: [Int], searchers: Int) {
        let listed = lock.withLock { sleepers.map { $0.pointee.index } }
        return (listed, searcherCount.load(ordering: .relaxed))  // a snapshot for humans
    }

    /// Producer side, after jobs became visible: wakes up to `count` sleepers, less one for each
    /// worker that is searching for work (it will find one of the jobs: README §1).
    func notifyWorkAvailable(count: Int = 1) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fences in `prepareToSleep` and `stoppedSearchingWithWork`
        guard sleeperCount.load(ordering: .relaxed) > 0 else { return }
        let unserved = count - searcherCount.load(ordering: .relaxed)  // after the fence: see README §1
        if unserved > 0 { wake(unserved) }
    }

    /// Producer side for work that only particular workers may run (their inboxes): wakes up to
    /// `count` sleepers whether or not others are searching, since those cannot take it.
    func notifyEveryWorker(count: Int) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // as in `notifyWorkAvailable`
        guard sleeperCount.load(ordering: .relaxed) > 0 else { return }
        wake(count)
    }

    private func wake(_ count: Int) {
        let woken = lock.withLock { () -> [LivePointer<Participant>] in
            let n = min(count, sleepers.count)
            let chosen = Array(sleepers.suffix(n))
            sleepers.removeLast(n)
            sleeperCount.store(sleepers.count, ordering: .relaxed)  // the lock orders the list itself
            return chosen
        }
        for sleeper in woken { sleeper.pointee.parker.unpark() }
    }

    func wakeAll() {
        notifyEveryWorker(count: Int.max)
    }

    /// A worker that found no work starts searching (counted until `stoppedSearching` or `stoppedSearchingWithWork`).
    func beganSearching() {
        searcherCount.wrappingAdd(1, ordering: .relaxed)  // a missed increment costs one extra wake-up
    }

    /// A searching worker stops because it is about to list itself as a sleeper
    /// (`prepareToSleep`'s fence follows).
    func stoppedSearching() {
        searcherCount.wrappingSubtract(1, ordering: .relaxed)  // before `prepareToSleep`'s fence
    }

    /// A searching worker stops because it found a job, or because it leaves (retires, or the
    /// pool closed). Issues the fence itself and returns whether someone sleeps: the caller must
    /// then look whether more work is visible and notify for it, since a producer may have left
    /// that work to this worker (README §1, *searcher takes another job*, *searcher leaves*).
    func stoppedSearchingWithWork() -> Bool {
        searcherCount.wrappingSubtract(1, ordering: .relaxed)  // before the fence below
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `notifyWorkAvailable`
        return sleeperCount.load(ordering: .relaxed) > 0
    }

    /// Sleeper side, step 1: returns the ticket to park with. The caller must search for work
    /// once more after this, then call `sleep(_:ticket:)` or `cancelSleep(_:)`.
    func prepareToSleep(_ me: LivePointer<Participant>) -> UInt32 {
        let ticket = me.pointee.parker.prepare()
        lock.withLock {
            sleepers.append(me)
            sleeperCount.store(sleepers.count, ordering: .relaxed)
        }
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `notifyWorkAvailable`
        return ticket
    }

    /// Takes `me` off the list if no producer did (it found work itself, or woke without being
    /// chosen). When a producer had chosen `me` although `me` found work on its own, the
    /// notification is passed on to another sleeper, so that it is not used up.
    func cancelSleep(_ me: LivePointer<Participant>) {
        let wasChosen = lock.withLock { () -> Bool in
            guard let i = sleepers.firstIndex(of: me) else { return true }
            sleepers.remove(at: i)
            sleeperCount.store(sleepers.count, ordering: .relaxed)
            return false
        }
        if wasChosen { notifyWorkAvailable() }
    }

    /// Parks `me` on `ticket` (for at most `timeoutNanoseconds`, if not negative). Returns
    /// whether a producer chose it: false after a timeout or a spurious wake-up, when `me` was
    /// still listed (and is taken off the list here).
    @discardableResult
    func sleep(_ me: LivePointer<Participant>, ticket: UInt32, timeoutNanoseconds: Int64 = -1) -> Bool {
        me.pointee.parker.park(ticket: ticket, timeoutNanoseconds: timeoutNanoseconds)
        // Off the list if the wake-up was spurious (a chosen sleeper was removed by its waker).
        return lock.withLock {
            guard let i = sleepers.firstIndex(of: me) else { return true }
            sleepers.remove(at: i)
            sleeperCount.store(sleepers.count, ordering: .relaxed)
            return false
        }
    }
}
