import CSpindle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finding and running work: what an idle worker looks for, what a blocked participant may run
/// (its own call's work only), and running a job taken from a queue.
extension Registry {
    /// Runs a job taken from a queue on participant `me`.
    func execute(_ job: JobRef, on me: LivePointer<Participant>) {
        Participant.assertOwned(me)
        let savedFamily = me.pointee.family
        // The job's outermost joins sit just below this participant's offered ones, so that they
        // can be offered too while the offer window has room.
        let savedDepth = me.pointee.joinDepth
        if let oldest = me.pointee.oldestPending {
            me.pointee.joinDepth = oldest.pointee.depth &+ me.pointee.pendingCount
        }
        let traced = me.pointee.traceBuffer != nil
        if traced { me.pointee.trace(.jobStart, Self.traceKind(of: job).rawValue) }
        defer { if traced { me.pointee.trace(.jobEnd) } }
        if job.isHeap {
            let heapJob = job.takeHeapJob()
            if heapJob.isBackground {
                heapJob.leaveQueue()
                // A background job is the root of a call tree of its own (CancellationFlow.swift).
                let saved = beginRootFamily(on: me, cancellation: heapJob.cancellation)
                heapJob.execute()
                endRootFamily(on: me, restoring: saved)
                if !heapJob.recordsOwnOutcome { record(.completed) }
            } else {
                me.pointee.family = heapJob.family
                heapJob.execute()
            }
        } else if job.isExecutorJob {
            // A Swift job is a root too: its task is the cancellation source (CancellationFlow.swift).
            let saved = beginRootFamily(on: me)
            // SAFETY: the job came from the runtime through `enqueue` (so the pool is a task executor and `taskExecutor` is set) and runs once, here.
            unsafe job.executorJob.runSynchronously(on: taskExecutor.unsafelyUnwrapped)
            endRootFamily(on: me, restoring: saved)
            me.pointee.bump(me.pointee.executorJobs)
        } else if job.isSpawnRecord {
            let record = job.spawnRecordPointer
            me.pointee.family = record.pointee.family
            SpawnRecord.run(record)
        } else {
            let stackJob = job.stackJob
            stackJob.pointee.thief.store(me.pointee.index, ordering: .relaxed)  // a hint only
            me.pointee.family = stackJob.pointee.family
            StackJob.execute(stackJob)
        }
        me.pointee.family = savedFamily
        me.pointee.joinDepth = savedDepth
    }

    static func traceKind(of job: JobRef) -> TraceRecorder.JobKind {
        if job.isHeap { return job.heapJobUnretained.isBackground ? .task : .foreground }
        if job.isExecutorJob { return .swiftJob }
        if job.isSpawnRecord { return .scopeSpawn }
        return .join
    }

    /// What an idle worker looks for, in priority order: its own deque, its inbox, other
    /// participants' deques and the foreground injector, then background work.
    func findWork(for me: LivePointer<Participant>) -> JobRef? {
        Participant.assertOwned(me)
        if let job = me.pointee.deque.pop() { return job }
        if let job = me.pointee.inbox.pop() { return job }
        if let job = stealForeground(for: me) { return job }
        if let job = me.pointee.backgroundInbox.pop() { return job }
        return background.pop(startingAt: me.pointee.index)
    }

    /// Whether any job that an idle worker could take is queued (hints: relaxed loads, read by a
    /// searcher after its fence in `WorkerSleepState.stoppedSearching`).
    var hasVisibleWork: Bool {
        if !background.isEmpty || !foreground.isEmpty { return true }
        let count = slotCount.load(ordering: .acquiring)  // pairs with the publishing stores
        for i in 0..<count where !participant(at: i).pointee.deque.isProbablyEmpty { return true }
        return false
    }

    func stealForeground(for me: LivePointer<Participant>) -> JobRef? {
        let count = slotCount.load(ordering: .acquiring)  // pairs with the publishing stores
        let start = me.pointee.index
        for k in 1..<max(count, 1) {
            let victim = participant(at: (start + k) % count)
            if victim.pointee.deque.isProbablyEmpty { continue }
            if let job = victim.pointee.deque.steal() {
                me.pointee.bump(me.pointee.steals)
                me.pointee.trace(.steal)
                // A thief that leaves work behind passes a wake-up on, so that a burst of work
                // spreads to every sleeper even when some notifications found nobody asleep.
                // A hint, not part of the no-lost-wake-up protocol (the push already notified), so
                // it skips the fence when nobody seems to sleep.
                if sleep.mayHaveSleepers && !victim.pointee.deque.isProbablyEmpty {
                    sleep.notifyWorkAvailable()
                }
                return job
            }
        }
        return foreground.pop()
    }

    /// Runs what is queued for this very thread: a worker's own inbox, or the home worker's inbox
    /// of an outside participant (used while blocked on something that is not a join or scope).
    func serveInboxes(of me: LivePointer<Participant>) {
        while me.pointee.isWorker, let job = me.pointee.inbox.pop() ?? me.pointee.backgroundInbox.pop() {
            execute(job, on: me)
        }
        while serveHomeInbox(of: me) {}
    }

    /// A blocked outside participant whose thread is a worker elsewhere runs one job of that
    /// worker's inbox (as that worker); says whether it did.
    func serveHomeInbox(of me: LivePointer<Participant>) -> Bool {
        guard let home = me.pointee.homeWorker,
            let job = home.pointee.inbox.pop() ?? home.pointee.backgroundInbox.pop()
        else { return false }
        Participant.makeCurrent(home)
        home.pointee.registry.execute(job, on: home)
        Participant.makeCurrent(me)
        return true
    }

    /// Work a blocked participant may run: only jobs of its own family. Jobs of other families
    /// met on the way are handed to the foreground injector, where idle workers take them.
    func findRelatedWork(for me: LivePointer<Participant>, hint: Int) -> JobRef? {
        Participant.assertOwned(me)
        if let job = me.pointee.deque.pop() { return job }
        if me.pointee.isWorker, let job = me.pointee.inbox.pop() { return job }
        // A broadcast spawn's part can run nowhere else: a blocked worker runs it rather than
        // risk a wait cycle through it (the one exception to "related work only").
        if me.pointee.isWorker, let job = me.pointee.backgroundInbox.pop() { return job }
        let family = me.pointee.family
        let count = slotCount.load(ordering: .acquiring)  // pairs with the publishing stores
        let start = hint >= 0 && hint < count ? hint : me.pointee.index
        for k in 0..<count {
            let index = (start + k) % count
            if index == me.pointee.index { continue }
            let victim = participant(at: index)
            if victim.pointee.deque.isProbablyEmpty { continue }
            guard let job = victim.pointee.deque.steal() else { continue }
            if job.family == family {
                me.pointee.bump(me.pointee.steals)
                me.pointee.trace(.steal)
                return job
            }
            foreground.push(job)
            sleep.notifyWorkAvailable()
        }
        return foreground.pop(where: { $0.family == family })
    }
}
