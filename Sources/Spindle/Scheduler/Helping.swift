import CSpindle
import Synchronization

/// Blocked participants: waiting for a stolen join or a latch while helping with related work,
/// and waiting on an event while serving what only this thread can run.
extension Registry {
    /// Waits until a promoted and stolen join job is done, helping with related work meanwhile.
    func waitForStolenJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) {
        _ = waitForStolenJob(job, on: me, claiming: { _ in false })
    }

    /// Waits as `waitForStolenJob(_:on:)`, except that the first related job `claim` accepts
    /// is handed back instead of run (nil once `job` is done): a parallel loop waiting for a
    /// stolen piece takes a piece of its own loop this way, to run it in its own (inlined) code.
    /// The caller then owns the claimed job as a thief would, and must complete it.
    func waitForStolenJob(
        _ job: LivePointer<StackJob>, on me: LivePointer<Participant>, claiming claim: (JobRef) -> Bool
    ) -> JobRef? {
        helpUntil(
            on: me, claiming: claim,
            hint: { job.pointee.thief.load(ordering: .relaxed) },  // a hint only
            isDone: { job.pointee.done.load(ordering: .acquiring) == 1 },  // pairs with the thief's releasing exchange
            park: {
                // Park until the thief finishes, or a heartbeat later to look for related work again.
                let ticket = me.pointee.parker.prepare()
                let current = job.pointee.done.load(ordering: .acquiring)  // pairs with the thief's exchange
                if current == 1 { return true }
                if current == 0
                    && !job.pointee.done.compareExchange(
                        expected: 0, desired: 2, ordering: .acquiringAndReleasing
                    ).exchanged
                {
                    return false
                }
                me.pointee.parker.park(ticket: ticket, timeoutNanoseconds: heartbeat.intervalNanoseconds)
                return false
            })
    }

    /// Waits for a count latch (scope, broadcast), helping with related work meanwhile.
    func wait(for latch: CountLatch, on me: LivePointer<Participant>) {
        _ = helpUntil(
            on: me, claiming: { _ in false }, hint: { -1 }, isDone: { latch.isReleased },
            park: {
                latch.parkOwner(timeoutNanoseconds: heartbeat.intervalNanoseconds)
                return false
            })
    }

    /// The loop of a blocked participant: until `isDone`, run what only this thread can run (its
    /// home worker's inbox), then related work (stealing first from participant `hint`), then
    /// spin, then `park` (which returns whether it saw the wait end, and parks at most a heartbeat
    /// so that related work is looked for again). While it spins it asks for promotions itself
    /// (what it waits for may be pending in the thief's joins); from its first park until it finds
    /// work it counts for the heartbeat thread, which then asks for it (README §2). Related work
    /// that `claim` accepts is returned instead of run; nil means the wait is over.
    private func helpUntil(
        on me: LivePointer<Participant>, claiming claim: (JobRef) -> Bool, hint: () -> Int,
        isDone: () -> Bool, park: () -> Bool
    ) -> JobRef? {
        Participant.assertOwned(me)
        var idleRounds = 0
        let spinLimit = configuration.spinBeforeSleep
        /// Has asked for promotions since it last ran work (at once after a failed search).
        var askedForPromotions = false
        /// Counted by the heartbeat thread: parked at least once since it last ran work.
        var countsForHeartbeat = false
        defer { if countsForHeartbeat { heartbeat.waiterStoppedParking() } }
        while !isDone() {
            if serveHomeInbox(of: me) {
                idleRounds = 0
                continue
            }
            if let work = findRelatedWork(for: me, hint: hint()) {
                askedForPromotions = false
                if countsForHeartbeat {
                    countsForHeartbeat = false
                    heartbeat.waiterStoppedParking()
                }
                if claim(work) { return work }
                execute(work, on: me)
                idleRounds = 0
                continue
            }
            if !askedForPromotions {
                askedForPromotions = true
                requestPromotions()  // at once: work may be waiting for a promotion right now
            }
            if idleRounds % Self.promotionRequestRounds == 0 { requestPromotionsFromSpinner() }
            idleRounds += 1
            if idleRounds < spinLimit {
                spindle_cpu_relax()
                continue
            }
            if !countsForHeartbeat {
                countsForHeartbeat = true
                heartbeat.waiterStartedParking()  // parked, it cannot ask for its own beats
            }
            me.pointee.trace(.park)
            let ended = park()
            me.pointee.trace(.unpark)
            if ended { return nil }
            idleRounds = spinLimit - 1  // after a timed wake-up: one search, then park again
        }
        return nil
    }
}

/// Waiting on an event from a thread that may be a participant (the scheduler layer extends the
/// primitive: it needs the participant's registry).
extension OneShotEvent {
    /// Waits for the event. A participant of some pool keeps serving what only its thread can
    /// run (its broadcast inboxes, its home worker's inboxes) meanwhile: what it waits for may
    /// be waiting for exactly that. Any other thread simply blocks.
    func waitServingInboxes() {
        guard let me = Participant.current else {
            wait()
            return
        }
        let registry = me.pointee.registry
        while !wait(timeoutNanoseconds: registry.heartbeat.intervalNanoseconds) {
            registry.serveInboxes(of: me)
        }
    }
}
