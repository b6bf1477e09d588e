import CSpindle

/// A worker's main loop: own deque → own inbox → steal foreground → background → spin → park.
enum Worker {
    static func run(registry: Registry, index: Int) {
        let me = registry.participant(at: index)
        // Releasing: everything this worker did happens before a graceful shutdown sees it gone.
        defer {
            registry.liveWorkers.wrappingSubtract(1, ordering: .releasing)
            me.pointee.threadRunning.store(false, ordering: .releasing)  // pairs with `resize`'s acquiring load
        }
        spindle_set_current_participant(UnsafeMutableRawPointer(me))
        defer { spindle_set_current_participant(nil) }
        if registry.configuration.pinning == .cores {
            _ = spindle_pin_current_thread(spindle_affinity_cpu_at(Int32(index)))
        }
        let spinLimit = registry.configuration.spinBeforeSleep
        registry.heartbeat.participantBecameActive()
        me.pointee.becameBusy(at: monotonicNanoseconds())  // until its first search finds nothing
        var idleRounds = 0
        var isHungry = false
        defer { if isHungry { registry.heartbeat.participantWasFed() } }
        while true {
            // Acquiring: pairs with `resize`'s releasing store; everything queued for this worker
            // before it was told to retire is visible to `retireWorker`.
            if me.pointee.retiring.load(ordering: .acquiring) {
                registry.retireWorker(me)
                break
            }
            // Read before searching: once closed, no background or inbox job can be admitted, so
            // a search that starts after seeing the flag and finds nothing means this worker is done.
            let closed = registry.isShutDown
            if let job = registry.findWork(for: me) {
                if isHungry {
                    isHungry = false
                    registry.heartbeat.participantWasFed()
                    me.pointee.becameBusy(at: monotonicNanoseconds())
                }
                registry.execute(job, on: me)
                idleRounds = 0
                continue
            }
            if closed { break }
            if !isHungry {
                isHungry = true
                me.pointee.becameIdle(at: monotonicNanoseconds())
                registry.heartbeat.participantBecameHungry()
                registry.requestPromotions()  // at once: work may be waiting for a promotion right now
            }
            if idleRounds % Registry.promotionRequestRounds == 0 { registry.requestPromotionsFromSpinner() }
            idleRounds += 1
            if idleRounds < spinLimit {
                spindle_cpu_relax()
                continue
            }
            let ticket = registry.sleep.prepareToSleep(me)
            let closedBeforeSleep = registry.isShutDown
            if let job = registry.findWork(for: me) {
                registry.sleep.cancelSleep(me)
                isHungry = false
                registry.heartbeat.participantWasFed()
                me.pointee.becameBusy(at: monotonicNanoseconds())
                registry.execute(job, on: me)
                idleRounds = 0
                continue
            }
            if closedBeforeSleep {
                registry.sleep.cancelSleep(me)
                break
            }
            // Parked, this worker stops counting as hungry: the heartbeat ticks only for hungry
            // threads that are looking for work (a parked one is woken by the next publish), so
            // an idle worker beside busy ones costs the busy ones no heartbeat.
            registry.heartbeat.participantWasFed()
            registry.heartbeat.participantBecameIdle()
            me.pointee.trace(.park)
            registry.sleep.sleep(me, ticket: ticket)
            me.pointee.trace(.unpark)
            registry.heartbeat.participantBecameActive()
            registry.heartbeat.participantBecameHungry()  // still without work until it finds some
            idleRounds = 0
        }
        me.pointee.retireSpawnSlab()
        me.pointee.becameIdle(at: monotonicNanoseconds())
        registry.heartbeat.participantBecameIdle()
    }
}
