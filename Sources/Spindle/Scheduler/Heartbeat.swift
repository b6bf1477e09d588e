import CSpindle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The heartbeat: a thread that, every interval, sets the heartbeat flag of every participant.
/// Protocol and interleavings: Scheduler/README.md §2.
/// A participant that finds its flag set at a join promotes its oldest pending job.
///
/// A beat asks every participant, at its next join point, to slide its offer window past the
/// offered joins thieves have started, so that deeper joins are offered (published) in turn.
///
/// The thread ticks only while it can help: some blocked participant has parked, waiting for a
/// stolen job or a latch (`parkingWaiters`), *and* another is active (awake: a worker, or an
/// outside caller inside a call) to run what a beat promotes. A spinning participant needs no
/// thread for its beats: it asks for them itself, at the same rate
/// (`Registry.requestPromotionsFromSpinner`), so idle workers spinning between jobs never wake
/// this thread, and a parked worker is woken by the next publish. An idle pool, or one whose
/// threads only spin, burns no CPU here.
/// The transition that makes `canTick` true (`parkingWaiters` from 0 to 1 with `active` above 1,
/// or `active` from 1 to 2 with `parkingWaiters` above 0) bumps `wakeWord` and wakes the thread;
/// any other transition cannot start a tick: no wake, no system call. The thread
/// reads the ticket *before* it reads the counts, so a wake between the two makes its wait
/// return at once.
final class Heartbeat: @unchecked Sendable {  // all state is atomic or immutable after `start`
    let intervalNanoseconds: Int64
    private let active = Atomic<Int>(0)
    /// Blocked participants that parked at least once since they last ran work (README §2).
    private let parkingWaiters = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Whether the thread is in its untimed wait (nobody else active, or no waiter parked): a hint for
    /// tests of an idle pool. Relaxed: orders nothing.
    private let waitsUntimed = Atomic<Bool>(false)

    /// Whether the heartbeat thread waits without a timeout (no ticks until a waiter parks).
    var isWaitingUntimed: Bool { waitsUntimed.load(ordering: .relaxed) }
    /// How many times a count's transition woke the thread: a hint for tests. Relaxed: orders
    /// nothing (each test reads it on the thread that caused, or did not cause, a wake).
    private let transitionWakes = Atomic<Int>(0)
    var transitionWakeCount: Int { transitionWakes.load(ordering: .relaxed) }
    private let wakeWord = FutexWord(0)
    private let finished = OneShotEvent()
    private var started = false

    init(intervalNanoseconds: Int64) {
        self.intervalNanoseconds = intervalNanoseconds
    }

    // SAFETY: the heartbeat is destroyed after its thread has exited (the registry's shutdown
    // joins it), so nothing waits on the word.
    deinit { unsafe wakeWord.deallocate() }

    /// `<prefix>heartbeat` where that fits the platform's limit, else `<prefix>hb`.
    static func threadName(prefix: String) -> String {
        let long = prefix + "heartbeat"
        return long.utf8.count <= threadNameLimit ? long : Spindle.threadName(prefix: prefix, suffix: "hb")
    }

    func start(registry: Registry) {
        started = true
        spawnDetachedThread(name: Self.threadName(prefix: registry.configuration.threadNamePrefix)) {
            self.run(registry: registry)
        }
    }

    /// Whether a beat can feed anyone: a waiter is parked, and another participant is awake.
    ///
    /// Every parked waiter is also active (it is inside its call), so one active participant
    /// that is a parked waiter is alone: what it waits for runs nowhere a beat could reach.
    private var canTick: Bool {
        // Sequentially consistent: as the counts' updates (README §2).
        active.load(ordering: .sequentiallyConsistent) > 1 && parkingWaiters.load(ordering: .sequentiallyConsistent) > 0
    }

    func participantBecameActive() {
        // Sequentially consistent: ordered against the heartbeat thread's load of `active`, and
        // against `waiterStartedParking`'s increment (README §2, *both counts rise at once*).
        if active.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue == 1,
            parkingWaiters.load(ordering: .sequentiallyConsistent) > 0
        {
            wakeThread()
        }
    }

    func participantBecameIdle() {
        active.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // ordered like the increment
    }

    /// A blocked participant found nothing to run, spun, and is about to park for the first
    /// time since it last ran work: from now on only this thread can ask for its beats.
    func waiterStartedParking() {
        // Sequentially consistent: ordered against the heartbeat thread's load of `parkingWaiters`.
        if parkingWaiters.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue == 0,
            active.load(ordering: .sequentiallyConsistent) > 1  // as in `participantBecameActive`
        {
            wakeThread()
        }
    }

    /// A waiter counted by `waiterStartedParking` found work, or its wait ended.
    func waiterStoppedParking() {
        parkingWaiters.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // ordered like the increment
    }

    /// Wakes the thread from its untimed wait: it can tick now (`canTick`).
    private func wakeThread() {
        transitionWakes.wrappingAdd(1, ordering: .relaxed)
        wakeWord.withAtomic { $0.wrappingAdd(1, ordering: .releasing) }  // pairs with the ticket load
        wakeWord.wake(1)
    }

    /// Stops the thread and waits until it has finished.
    func stop() {
        guard started else { return }
        requestStop()
        finished.wait()
    }

    /// Tells the thread to stop, without waiting (the thread holds the registry until it ends).
    func requestStop() {
        guard started else { return }
        stopped.store(true, ordering: .releasing)  // pairs with the loop's acquiring load
        wakeWord.withAtomic { $0.wrappingAdd(1, ordering: .releasing) }
        wakeWord.wakeAll()
    }

    fileprivate func run(registry: Registry) {
        spindle_set_precise_timer_slack()
        while !stopped.load(ordering: .acquiring) {  // pairs with `stop()`
            let ticket = wakeWord.withAtomic { $0.load(ordering: .acquiring) }
            // Looked at again after the ticket: a `requestStop` between the loop's check and the
            // ticket bumped the word before this load, so the wait below would not see it. Its
            // store to `stopped` comes before its releasing bump, which this acquiring load read.
            if stopped.load(ordering: .acquiring) { break }
            if !canTick {
                waitsUntimed.store(true, ordering: .relaxed)
                wakeWord.wait(whileEqualTo: ticket)
                waitsUntimed.store(false, ordering: .relaxed)
                // Woken because a waiter parked: beat at once rather than an interval later.
                if !stopped.load(ordering: .acquiring) { registry.requestPromotions() }
                continue
            }
            // A timed wait rather than a sleep, so that `stop()` (which bumps the word) ends it.
            wakeWord.wait(whileEqualTo: ticket, timeoutNanoseconds: intervalNanoseconds)
            if stopped.load(ordering: .acquiring) { break }
            registry.requestPromotions()
        }
        finished.set()
    }
}
