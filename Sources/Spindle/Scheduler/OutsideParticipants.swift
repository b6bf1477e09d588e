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
        var slot = spareExternal.take()
        while slot == nil {
            slot = externalLock.withLock { () -> LivePointer<Participant>? in
                if let free = freeExternal.popLast() { return free }
                let index = slotCount.load(ordering: .relaxed)  // only grown under this lock
                guard index < Self.slotCapacity else { return nil }
                let p = Participant.allocate(registry: self, index: index, isWorker: false)
                // SAFETY: `index < slotCapacity` (checked above), written under `externalLock` before `slotCount` publishes it.
                unsafe slots[index] = p
                slotCount.store(index + 1, ordering: .releasing)  // publishes slots[index] to scans
                return p
            }
            // More simultaneous outside callers than slots: wait for one to leave.
            if slot == nil { sched_yield() }
        }
        guard let me = slot else { preconditionFailure("the loop ends with a slot") }
        let previous = Participant.current
        if let outer = previous {
            me.pointee.homeWorker = outer.pointee.isWorker ? outer : outer.pointee.homeWorker
        }
        Participant.makeCurrent(me)
        // An outside call is the root of its call tree; its thread's Swift task, if any, is the
        // cancellation source (CancellationFlow.swift).
        let saved = beginRootFamily(on: me)
        heartbeat.participantBecameActive()
        return ExternalParticipant(participant: me, previous: previous, savedRoot: saved)
    }

    func exitExternal(_ entry: ExternalParticipant) {
        heartbeat.participantBecameIdle()
        let me = entry.participant
        endRootFamily(on: me, restoring: entry.savedRoot)
        Participant.makeCurrent(entry.previous)
        me.pointee.retireSpawnSlab()
        me.pointee.homeWorker = nil
        me.pointee.cachedCancellationFamily = 0
        me.pointee.cachedCancellation = nil
        me.pointee.heartbeat.store(false, ordering: .relaxed)
        // The slot's fields are reset above, before `put`'s release hands it on.
        if !spareExternal.put(me) { externalLock.withLock { freeExternal.append(me) } }
    }
}

/// An outside thread's temporary membership, returned by `Registry.enterExternal()`.
@usableFromInline
struct ExternalParticipant {
    @usableFromInline let participant: LivePointer<Participant>
    /// The thread's participant before this call (of another pool, or an outer call), restored
    /// on exit.
    let previous: LivePointer<Participant>?
    /// The slot's state before this call became the root of its family (restored on exit).
    let savedRoot: SavedRoot
}
