import CSpindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A worker's main loop: own deque → own inbox → steal foreground → background → spin → park.
enum Worker {
    /// Spin rounds of an idle worker between two `sched_yield` calls (rayon yields every round;
    /// here the rounds between are a pause instruction, a cheaper look again at the queues).
    static var roundsBetweenYields: Int { 16 }

    static func run(registry: Registry, index: Int) {
        let me = registry.participant(at: index)
        Participant.makeCurrent(me)
        defer { Participant.makeCurrent(nil) }
        if registry.configuration.pinning == .cores {
            _ = spindle_pin_current_thread(spindle_affinity_cpu_at(Int32(index)))
        }
        // A retirement cancelled while this worker was on its way out sends it back to work.
        // Once `leaveSlot` says the slot is vacant, nothing of `me` may be touched: a new thread
        // may start on the slot. The exit hook runs before it, so that shutdown, which waits for
        // every slot to be vacant, also waits for the hooks.
        let hooks = registry.configuration.threadHooks
        while true {
            hooks?.onStart(index)
            let reason = serve(registry: registry, me: me, index: index)
            hooks?.onExit(index)
            if registry.leaveSlot(index, reason: reason) { break }
        }
    }

    /// Finds and runs work until the worker retires or the closed pool has nothing left; sets up
    /// and tears down the worker's per-thread state around it.
    private static func serve(registry: Registry, me: LivePointer<Participant>, index: Int) -> WorkerExit {
        let spinLimit = registry.configuration.spinBeforeSleep
        registry.heartbeat.participantBecameActive()
        me.pointee.becameBusy(at: monotonicNanoseconds())  // until its first search finds nothing
        defer {
            me.pointee.retireSpawnSlab()
            me.pointee.becameIdle(at: monotonicNanoseconds())
            registry.heartbeat.participantBecameIdle()
        }
        /// Failed searches since the last job or wake-up. The first asks for promotions at once
        /// (work may be waiting for a promotion right now), the spin every interval after that.
        /// A worker never counts for the heartbeat thread: while it spins it asks for its own
        /// beats, and once parked it is woken by the next publish (README §2).
        var idleRounds = 0
        /// Idle in the busy-time accounting: from a failed search until it runs a job (parked
        /// time included).
        var isIdle = false
        /// Counted among the searching workers (WorkerSleepState): from a failed search until it
        /// finds a job or lists itself as a sleeper.
        var isSearching = false
        defer {
            // A producer may have left a job to this searcher, which now leaves without it:
            // pass it on (README §1, *searcher leaves*).
            if isSearching, registry.sleep.stoppedSearchingWithWork(), registry.hasVisibleWork {
                registry.sleep.notifyWorkAvailable()
            }
        }
        /// Runs a job this worker found, ending its search first.
        func run(_ job: JobRef) {
            if isSearching {
                isSearching = false
                // A producer may have left more work to this worker: pass it on (README §1).
                if registry.sleep.stoppedSearchingWithWork(), registry.hasVisibleWork {
                    registry.sleep.notifyWorkAvailable()
                }
            }
            if isIdle {
                isIdle = false
                me.pointee.becameBusy(at: monotonicNanoseconds())
            }
            registry.execute(job, on: me)
            idleRounds = 0
        }
        while true {
            // Acquiring: pairs with `resize`'s releasing store; the slot's state, read under the
            // lifecycle lock, decides (a grow may have cancelled the retirement).
            if me.pointee.retireRequested.load(ordering: .acquiring), registry.acknowledgeRetirement(index) {
                registry.retireWorker(me)
                return .retired
            }
            // Read before searching: once closed, no background or inbox job can be admitted, so
            // a search that starts after seeing the flag and finds nothing means this worker is done.
            let closed = registry.isDrained
            if let job = registry.findWork(for: me) {
                run(job)
                continue
            }
            if closed { return .shutDown }
            if !isSearching {
                isSearching = true
                registry.sleep.beganSearching()
            }
            if !isIdle {
                isIdle = true
                me.pointee.becameIdle(at: monotonicNanoseconds())
            }
            if idleRounds == 0 { registry.requestPromotions() }  // at once: work may be waiting for a promotion right now
            if idleRounds % Registry.promotionRequestRounds == 0 { registry.requestPromotionsFromSpinner() }
            idleRounds += 1
            if idleRounds < spinLimit {
                // Every few rounds, give the core away: when more threads are runnable than
                // there are cores (an outside caller beside a full pool, a second process), the
                // thread this worker waits for (a reader of a bridged sequence, the owner of a
                // job about to be published) may be the one the scheduler preempted for it.
                // With nothing else runnable the call returns at once.
                if idleRounds % Self.roundsBetweenYields == 0 { sched_yield() } else { spindle_cpu_relax() }
                continue
            }
            isSearching = false
            registry.sleep.stoppedSearching()  // before `prepareToSleep`'s fence
            let ticket = registry.sleep.prepareToSleep(me)
            let closedBeforeSleep = registry.isDrained
            if let job = registry.findWork(for: me) {
                registry.sleep.cancelSleep(me)
                run(job)
                continue
            }
            if closedBeforeSleep {
                registry.sleep.cancelSleep(me)
                return .shutDown
            }
            // A retirement requested after the loop's first check but before the ticket above
            // unparked the parker too early, and its `wakeAll` may have found this worker not yet
            // listed: look again after `prepareToSleep`'s fence (it pairs with the one in
            // `wakeAll`, issued after the request's store: README §4, *retire before the
            // ticket*). One requested from here on unparks after the ticket, so the park returns
            // at once and the loop's first check sees it.
            if me.pointee.retireRequested.load(ordering: .acquiring) {  // pairs with `retireHighestSlot`'s releasing store
                registry.sleep.cancelSleep(me)
                continue
            }
            registry.heartbeat.participantBecameIdle()
            me.pointee.trace(.park)
            // A spare no blocked worker needs parks only for the idle timeout, then retires
            // unless a producer chose it (BlockingSections.swift).
            let idleSpare = registry.mayRetireAsIdleSpare(index)
            let chosen = registry.sleep.sleep(
                me, ticket: ticket, timeoutNanoseconds: idleSpare ? registry.configuration.spareIdleNanoseconds : -1)
            if idleSpare && !chosen { _ = registry.retireIdleSpare(index) }  // the loop's first check retires it
            me.pointee.trace(.unpark)
            // Awake: a waiter parked beside it can now be served by a beat (the heartbeat
            // thread wakes on that transition only).
            registry.heartbeat.participantBecameActive()
            idleRounds = 0
        }
    }
}
