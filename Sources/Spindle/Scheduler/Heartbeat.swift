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
/// The thread ticks only while it can help: some participant is hungry and looking (a worker
/// spinning with nothing to do, or a participant blocked waiting for a stolen job) *and* another
/// is active (awake: a worker, or an outside caller inside a call). A parked worker is not
/// counted: the next publish wakes it. With every thread busy, or one worker alone spinning, a
/// beat would feed nobody, so the heartbeat parks and costs nothing; an idle pool burns no CPU.
/// The transition that makes `canTick` true (`hungry` from 0 to 1 with `active` above 1, or
/// `active` from 1 to 2 with `hungry` above 0) bumps `wakeWord` and wakes the thread; any other
/// transition cannot start a tick: no wake, no system call. The thread
/// reads the ticket *before* it reads the counts, so a wake between the two makes its wait
/// return at once.
final class Heartbeat: @unchecked Sendable {  // all state is atomic or immutable after `start`
    let intervalNanoseconds: Int64
    private let active = Atomic<Int>(0)
    private let hungry = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Whether the thread is in its untimed wait (nobody active or nobody hungry): a hint for
    /// tests of an idle pool. Relaxed: orders nothing.
    private let waitsUntimed = Atomic<Bool>(false)

    /// Whether the heartbeat thread waits without a timeout (no ticks until someone is hungry).
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

    /// Whether a beat can feed anyone: a participant is hungry, and another one is awake.
    ///
    /// Every hungry participant is also active (a worker is hungry only between a failed search
    /// and its park; a blocked waiter is inside its call), so one active participant that is
    /// hungry is alone: a lone spinning worker, whose search finds every job without a
    /// promotion, and whose own pending joins (it has none at its top level) a beat could not
    /// promote. Two active participants are the least a beat can help (one busy, one hungry).
    private var canTick: Bool {
        // Sequentially consistent: as the counts' updates (README §2).
        active.load(ordering: .sequentiallyConsistent) > 1 && hungry.load(ordering: .sequentiallyConsistent) > 0
    }

    func participantBecameActive() {
        // Sequentially consistent: ordered against the heartbeat thread's load of `active`, and
        // against `participantBecameHungry`'s increment (README §2, *both counts rise at once*).
        if active.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue == 1,
            hungry.load(ordering: .sequentiallyConsistent) > 0
        {
            wakeThread()
        }
    }

    func participantBecameIdle() {
        active.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // ordered like the increment
    }

    /// A participant found nothing to run (idle worker, or blocked waiter).
    func participantBecameHungry() {
        // Sequentially consistent: ordered against the heartbeat thread's load of `hungry`.
        if hungry.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue == 0,
            active.load(ordering: .sequentiallyConsistent) > 1  // as in `participantBecameActive`
        {
            wakeThread()
        }
    }

    /// Wakes the thread from its untimed wait: it can tick now (`canTick`).
    private func wakeThread() {
        transitionWakes.wrappingAdd(1, ordering: .relaxed)
        wakeWord.withAtomic { $0.wrappingAdd(1, ordering: .releasing) }  // pairs with the ticket load
        wakeWord.wake(1)
    }

    func participantWasFed() {
        hungry.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // ordered like the increment
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
                // Woken because someone is hungry again: beat at once rather than an interval later.
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
