import Synchronization

/// Heartbeat promotions: asking participants to offer their pending joins, answering the ask at
/// a join point, and publishing (and taking back) offered jobs (Scheduler/README.md §2–§3).
extension Registry {
    /// Sets every participant's heartbeat flag: each promotes its oldest offered join at its next
    /// join point. Called by the heartbeat thread, and by hungry participants while they spin
    /// (every `promotionRequestRounds` idle rounds), so that a spinning thread does not wait for
    /// the heartbeat thread to be scheduled.
    func requestPromotions() {
        lastPromotionRequest.store(monotonicNanoseconds(), ordering: .relaxed)  // a rate-limit hint
        let count = slotCount.load(ordering: .acquiring)  // pairs with slot publication
        for i in 0..<count {
            // Relaxed: the flag carries no data; the owner reads it relaxed at its next join.
            // The limit closes the owner's fast path, so that its next join answers the beat.
            let p = participant(at: i)
            p.pointee.heartbeat.store(true, ordering: .relaxed)
            p.pointee.offerDepthLimit.store(Int.max, ordering: .relaxed)
        }
    }

    /// Idle search rounds between two looks at the clock by a spinning participant.
    static var promotionRequestRounds: Int { 256 }

    /// A spinning participant's request: at most one per heartbeat interval for the whole pool,
    /// so promotions keep the heartbeat's rate (and so its bounded overhead).
    func requestPromotionsFromSpinner() {
        let now = monotonicNanoseconds()
        // Relaxed: a rate limit; a rare duplicate request costs one extra promotion.
        let last = lastPromotionRequest.load(ordering: .relaxed)
        guard now - last >= heartbeat.intervalNanoseconds else { return }
        lastPromotionRequest.store(now, ordering: .relaxed)
        requestPromotions()
    }

    /// Called at a join point when the heartbeat flag is set (some thread is hungry): drops the
    /// offered jobs thieves have started from the offer window, so that the next joins below the
    /// ones this thread still runs itself are offered too.
    func answerHeartbeat(on me: LivePointer<Participant>) {
        Participant.assertOwned(me)
        me.pointee.heartbeat.store(false, ordering: .relaxed)  // no data attached to the flag
        if !me.pointee.slideOfferWindow() {
            me.pointee.updateOfferDepthLimit()  // undo the beat's `Int.max`
        }
    }

    /// Makes a join job stealable: pushes it onto the owner's deque and wakes a sleeper.
    func publishJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) {
        Participant.assertOwned(me)
        shareCancellationSource(of: me)
        me.pointee.deque.push(JobRef(stack: job))
        me.pointee.bump(me.pointee.promotions)
        me.pointee.trace(.promotion)
        // Sequentially consistent fence inside: either a worker about to sleep sees the job in its
        // last search, or this sees the sleeper and wakes it (`WorkerSleepState`). A join whose
        // first branch waits for the second relies on it.
        sleep.notifyWorkAvailable()
    }

    /// Publishes `count` consecutive jobs (an N-way join's branches), oldest first.
    ///
    /// # Safety
    /// `jobs` is the first of `count` consecutive initialised jobs, each alive until it is done.
    @unsafe
    func publishJobs(_ jobs: LivePointer<StackJob>, count: Int, on me: LivePointer<Participant>) {
        Participant.assertOwned(me)
        shareCancellationSource(of: me)
        // SAFETY: `k < count`, and the caller promises those jobs (see # Safety).
        for k in 0..<count { me.pointee.deque.push(JobRef(stack: unsafe jobs.advanced(by: k))) }
        me.pointee.bump(me.pointee.promotions)
        me.pointee.trace(.promotion)
        sleep.notifyWorkAvailable(count: count)
    }

    /// Back at a published job: takes it back if no thief did (returns true: run it inline), else
    /// waits for the thief (returns false: the result is in place).
    func takeBackJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) -> Bool {
        if reclaimJob(job, on: me) { return true }
        waitForStolenJob(job, on: me)
        return false
    }

    /// Pops `job` off the owner's deque if no thief took it (it is then the newest entry).
    func reclaimJob(_ job: LivePointer<StackJob>, on me: LivePointer<Participant>) -> Bool {
        Participant.assertOwned(me)
        if let top = me.pointee.deque.pop() {
            if top == JobRef(stack: job) { return true }
            // Another job of this participant (a spawn of an enclosing scope, say): put it back
            // for thieves; `waitForStolenJob` pops it again if nobody takes it.
            me.pointee.deque.push(top)
            sleep.notifyWorkAvailable()
        }
        return false
    }

    /// Pushes a scope spawn record onto the current participant's deque.
    func pushSpawnRecord(_ job: JobRef, on me: LivePointer<Participant>) {
        Participant.assertOwned(me)
        shareCancellationSource(of: me)
        me.pointee.deque.push(job)
        sleep.notifyWorkAvailable()
    }

    /// Pushes a foreground heap job: onto the current participant's deque when the caller is a
    /// participant of this registry, else into the foreground injector.
    func pushForeground(_ job: HeapJob) {
        if let me = Participant.current(in: identity) {
            shareCancellationSource(of: me)
            me.pointee.deque.push(JobRef(heap: job))
        } else {
            foreground.push(JobRef(heap: job))
        }
        sleep.notifyWorkAvailable()
    }
}
