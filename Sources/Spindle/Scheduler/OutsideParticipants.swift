import CSpindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Outside callers: a thread that is not a worker joins a pool for the duration of one call, in
/// a participant slot of its own (Scheduler/README.md: an outside caller helps only with its own
/// call's work).
extension Registry {
    /// Makes the calling thread a participant for the duration of one call.
    func enterExternal() -> ExternalParticipant {
        var slot: UnsafeMutablePointer<Participant>?
        while slot == nil {
            slot = externalLock.withLock { () -> UnsafeMutablePointer<Participant>? in
                if let free = freeExternal.popLast() { return free }
                let index = slotCount.load(ordering: .relaxed)  // only grown under this lock
                guard index < Self.slotCapacity else { return nil }
                let p = Participant.allocate(registry: self, index: index, isWorker: false)
                slots[index] = p
                slotCount.store(index + 1, ordering: .releasing)  // publishes slots[index] to scans
                return p
            }
            // More simultaneous outside callers than slots: wait for one to leave.
            if slot == nil { sched_yield() }
        }
        let me = slot.unsafelyUnwrapped
        me.pointee.family = makeFamily()
        let previous = spindle_current_participant()
        if let outer = previous?.assumingMemoryBound(to: Participant.self) {
            me.pointee.homeWorker = outer.pointee.isWorker ? outer : outer.pointee.homeWorker
        }
        spindle_set_current_participant(UnsafeMutableRawPointer(me))
        heartbeat.participantBecameActive()
        return ExternalParticipant(participant: me, previous: previous)
    }

    func exitExternal(_ entry: ExternalParticipant) {
        heartbeat.participantBecameIdle()
        spindle_set_current_participant(entry.previous)
        let me = entry.participant
        me.pointee.retireSpawnSlab()
        me.pointee.homeWorker = nil
        me.pointee.family = 0
        me.pointee.heartbeat.store(false, ordering: .relaxed)
        externalLock.withLock { freeExternal.append(me) }
    }
}

/// An outside thread's temporary membership, returned by `Registry.enterExternal()`.
@usableFromInline
struct ExternalParticipant {
    @usableFromInline let participant: UnsafeMutablePointer<Participant>
    let previous: UnsafeMutableRawPointer?
}
