import CSpindle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything a pool is made of: its participants (workers first, then outside callers), the
/// queues without an owner, the sleep and heartbeat state, and the worker threads' lifecycle
/// (`PoolLifecycle`, whose transitions live in `Lifecycle.swift`).
///
/// `ThreadPool` is the public face; workers keep the registry alive (not the pool), so dropping
/// the last `ThreadPool` reference can shut the pool down.
final class Registry: @unchecked Sendable {  // mutable state is atomic or guarded by `lifecycleLock` / `externalLock`
    let configuration: ThreadPool.Configuration
    /// Worker slots reserved at creation (`resize` may grow the pool up to this many workers).
    let maxWorkers: Int
    /// Workers currently in service: participants `0..<activeWorkers`. Changed under
    /// `lifecycleLock` (by `resize`); read relaxed elsewhere, as a count.
    let activeWorkers = Atomic<Int>(0)
    var workerCount: Int { activeWorkers.load(ordering: .relaxed) }
    /// The public pool (weak: the pool owns the registry). Set once before the workers start.
    weak var pool: ThreadPool?
    /// The pool as a task executor, for running Swift jobs on it (unowned: no reference counting
    /// per job; the pool must outlive the tasks that prefer it, as every executor must). Set once
    /// before the workers start.
    var taskExecutor: UnownedTaskExecutor?
    /// The trace recorder, when `configuration.tracing` is on.
    let tracer: TraceRecorder?
    /// When the pool started (monotonic nanoseconds), for utilisation.
    let startedAt = monotonicNanoseconds()
    /// Task outcomes recorded by threads that are not participants of this pool (a task run
    /// inline by `wait()` from any thread, a cancellation): rare, so shared counters.
    let outsideCompleted = Atomic<Int>(0)
    let outsideFailed = Atomic<Int>(0)
    let outsideCancelled = Atomic<Int>(0)

    /// Participant table: `slots[0..<slotCount]` are valid forever once published.
    /// Worker slots are `0..<maxWorkers` (the first `activeWorkers` in service); outside callers
    /// get the rest on demand.
    let slots: UnsafeMutablePointer<UnsafeMutablePointer<Participant>?>
    static let slotCapacity = 4_096
    /// Published with a releasing store after a slot pointer is written; read acquiring.
    let slotCount = Atomic<Int>(0)

    /// Outside participants not in use (guarded by `externalLock`).
    private let externalLock = FutexLock()
    private var freeExternal: [UnsafeMutablePointer<Participant>] = []

    /// Foreground jobs without an owning deque (handed in from non-participants, or given back).
    let foreground = Injector()
    /// Background jobs: spawn, submit.
    let background = Injector()

    let sleep = WorkerSleepState()
    let heartbeat: Heartbeat

    /// Source of call identities (`Participant.family`). 0 is never handed out.
    private let nextFamily = Atomic<Int>(1)

    // MARK: Lifecycle

    /// Guards `lifecycle` (see `PoolLifecycle`) against background admission and broadcasts, so
    /// no job slips in after workers decide to exit.
    let lifecycleLock = FutexLock()
    /// Under `lifecycleLock`.
    var lifecycle: PoolLifecycle
    /// Whether admission is closed, under `lifecycleLock`.
    var isClosed: Bool { lifecycle.phase != .running }
    /// Mirror of `isClosed` for lock-free reads in the worker loop (set under the lock).
    let closedFlag = Atomic<Bool>(false)
    /// Set when the last worker has left a closed pool.
    let workersGone = OneShotEvent()
    /// Set once a shutdown has finished: threads joined or detached, heartbeat stopped.
    let shutdownFinished = OneShotEvent()
    /// Bumped (releasing) and woken whenever a worker slot becomes vacant.
    let slotsChanged = FutexWord(0)
    /// Background jobs accepted but not started (for `maxPending`).
    let backgroundPending = Atomic<Int>(0)
    /// Async submitters waiting for a `maxPending` place.
    let capacityWaiters = CapacityWaiters()

    init(configuration: ThreadPool.Configuration) {
        self.configuration = configuration
        maxWorkers = Swift.min(Self.slotCapacity / 2,
                               Swift.max(4 * configuration.threads, 4 * ThreadPool.usableCoreCount))
        // Unsafe allocation: a fixed table of participant pointers read by thieves; freed in deinit.
        slots = .allocate(capacity: Self.slotCapacity)
        slots.initialize(repeating: nil, count: Self.slotCapacity)
        lifecycle = PoolLifecycle(slotCount: maxWorkers)
        heartbeat = Heartbeat(intervalNanoseconds: configuration.heartbeatNanoseconds)
        tracer = configuration.tracing ? TraceRecorder(eventsPerParticipant: 1 << 20) : nil
        LiveObjects.created(.registry)
    }

    deinit {
        for i in 0..<slotCount.load(ordering: .acquiring) {
            if let p = slots[i] { Participant.deallocate(p) }
        }
        slots.deallocate()
        slotsChanged.deallocate()
        LiveObjects.destroyed(.registry)
    }

    var identity: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    func makeFamily() -> Int {
        nextFamily.wrappingAdd(1, ordering: .relaxed).newValue  // a unique number; orders nothing
    }

    func participant(at index: Int) -> UnsafeMutablePointer<Participant> {
        slots[index].unsafelyUnwrapped
    }

    // MARK: Outside participants

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

    // MARK: Finding and running work

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

    /// When promotions were last requested (monotonic nanoseconds); a hint shared by all.
    private let lastPromotionRequest = Atomic<Int64>(0)

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

    /// Runs a job taken from a queue on participant `me`.
    func execute(_ job: JobRef, on me: UnsafeMutablePointer<Participant>) {
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
                if heapJob.leavesPendingOnDequeue { leavePending() }
                me.pointee.family = makeFamily()
            } else {
                me.pointee.family = heapJob.family
            }
            heapJob.execute()
            if heapJob.isBackground && heapJob.countsCompletionOnExecute { record(.completed) }
        } else if job.isExecutorJob {
            me.pointee.family = makeFamily()
            job.executorJob.runSynchronously(on: taskExecutor.unsafelyUnwrapped)
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
    func findWork(for me: UnsafeMutablePointer<Participant>) -> JobRef? {
        if let job = me.pointee.deque.pop() { return job }
        if let job = me.pointee.inbox.pop() { return job }
        if let job = stealForeground(for: me) { return job }
        if let job = me.pointee.backgroundInbox.pop() { return job }
        return background.pop()
    }

    func stealForeground(for me: UnsafeMutablePointer<Participant>) -> JobRef? {
        let count = slotCount.load(ordering: .acquiring)  // pairs with the publishing stores
        let start = me.pointee.index
        for k in 1..<max(count, 1) {
            let victim = slots[(start + k) % count].unsafelyUnwrapped
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
    func serveInboxes(of me: UnsafeMutablePointer<Participant>) {
        while me.pointee.isWorker, let job = me.pointee.inbox.pop() ?? me.pointee.backgroundInbox.pop() {
            execute(job, on: me)
        }
        while serveHomeInbox(of: me) {}
    }

    /// A blocked outside participant whose thread is a worker elsewhere runs one job of that
    /// worker's inbox (as that worker); says whether it did.
    func serveHomeInbox(of me: UnsafeMutablePointer<Participant>) -> Bool {
        guard let home = me.pointee.homeWorker,
              let job = home.pointee.inbox.pop() ?? home.pointee.backgroundInbox.pop() else { return false }
        spindle_set_current_participant(UnsafeMutableRawPointer(home))
        home.pointee.registry.takeUnretainedValue().execute(job, on: home)
        spindle_set_current_participant(UnsafeMutableRawPointer(me))
        return true
    }

    /// Work a blocked participant may run: only jobs of its own family. Jobs of other families
    /// met on the way are handed to the foreground injector, where idle workers take them.
    func findRelatedWork(for me: UnsafeMutablePointer<Participant>, hint: Int) -> JobRef? {
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
            let victim = slots[index].unsafelyUnwrapped
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

    /// Waits until a promoted and stolen join job is done, helping with related work meanwhile.
    func waitForStolenJob(_ job: UnsafeMutablePointer<StackJob>, on me: UnsafeMutablePointer<Participant>) {
        helpUntil(on: me,
                  hint: { job.pointee.thief.load(ordering: .relaxed) },  // a hint only
                  isDone: { job.pointee.done.load(ordering: .acquiring) == 1 },  // pairs with the thief's releasing exchange
                  park: {
                      // Park until the thief finishes, or a heartbeat later to look for related work again.
                      let ticket = me.pointee.parker.prepare()
                      let current = job.pointee.done.load(ordering: .acquiring)  // pairs with the thief's exchange
                      if current == 1 { return true }
                      if current == 0 && !job.pointee.done.compareExchange(
                          expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged {
                          return false
                      }
                      me.pointee.parker.park(ticket: ticket, timeoutNanoseconds: heartbeat.intervalNanoseconds)
                      return false
                  })
    }

    /// Waits for a count latch (scope, broadcast), helping with related work meanwhile.
    func wait(for latch: CountLatch, on me: UnsafeMutablePointer<Participant>) {
        helpUntil(on: me, hint: { -1 }, isDone: { latch.isReleased }, park: {
            latch.parkOwner(timeoutNanoseconds: heartbeat.intervalNanoseconds)
            return false
        })
    }

    /// The loop of a blocked participant: until `isDone`, run what only this thread can run (its
    /// home worker's inbox), then related work (stealing first from participant `hint`), then
    /// spin, then `park` (which returns whether it saw the wait end, and parks at most a heartbeat
    /// so that related work is looked for again). While it finds nothing it counts as hungry, so
    /// the heartbeat and promotion requests serve it.
    private func helpUntil(on me: UnsafeMutablePointer<Participant>, hint: () -> Int,
                           isDone: () -> Bool, park: () -> Bool) {
        var idleRounds = 0
        let spinLimit = configuration.spinBeforeSleep
        var isHungry = false
        defer { if isHungry { heartbeat.participantWasFed() } }
        while !isDone() {
            if serveHomeInbox(of: me) {
                idleRounds = 0
                continue
            }
            if let work = findRelatedWork(for: me, hint: hint()) {
                if isHungry {
                    isHungry = false
                    heartbeat.participantWasFed()
                }
                execute(work, on: me)
                idleRounds = 0
                continue
            }
            if !isHungry {
                isHungry = true
                heartbeat.participantBecameHungry()
                requestPromotions()  // at once: work may be waiting for a promotion right now
            }
            if idleRounds % Self.promotionRequestRounds == 0 { requestPromotionsFromSpinner() }
            idleRounds += 1
            if idleRounds < spinLimit {
                spindle_cpu_relax()
                continue
            }
            me.pointee.trace(.park)
            let ended = park()
            me.pointee.trace(.unpark)
            if ended { return }
            idleRounds = spinLimit - 1  // after a timed wake-up: one search, then park again
        }
    }

    /// Called at a join point when the heartbeat flag is set (some thread is hungry): drops the
    /// offered jobs thieves have started from the offer window, so that the next joins below the
    /// ones this thread still runs itself are offered too.
    func answerHeartbeat(on me: UnsafeMutablePointer<Participant>) {
        me.pointee.heartbeat.store(false, ordering: .relaxed)  // no data attached to the flag
        if !me.pointee.slideOfferWindow() {
            me.pointee.updateOfferDepthLimit()  // undo the beat's `Int.max`
        }
    }

    /// Makes a join job stealable: pushes it onto the owner's deque and wakes a sleeper.
    func publishJob(_ job: UnsafeMutablePointer<StackJob>, on me: UnsafeMutablePointer<Participant>) {
        me.pointee.deque.push(JobRef(stack: job))
        me.pointee.bump(me.pointee.promotions)
        me.pointee.trace(.promotion)
        // Sequentially consistent fence inside: either a worker about to sleep sees the job in its
        // last search, or this sees the sleeper and wakes it (`WorkerSleepState`). A join whose
        // first branch waits for the second relies on it.
        sleep.notifyWorkAvailable()
    }

    /// Publishes `count` consecutive jobs (an N-way join's branches), oldest first.
    func publishJobs(_ jobs: UnsafeMutablePointer<StackJob>, count: Int, on me: UnsafeMutablePointer<Participant>) {
        for k in 0..<count { me.pointee.deque.push(JobRef(stack: jobs + k)) }
        me.pointee.bump(me.pointee.promotions)
        me.pointee.trace(.promotion)
        sleep.notifyWorkAvailable(count: count)
    }

    /// Back at a published job: takes it back if no thief did (returns true: run it inline), else
    /// waits for the thief (returns false: the result is in place).
    func takeBackJob(_ job: UnsafeMutablePointer<StackJob>, on me: UnsafeMutablePointer<Participant>) -> Bool {
        if let top = me.pointee.deque.pop() {
            if top == JobRef(stack: job) { return true }
            // Another job of this participant (a spawn of an enclosing scope, say): put it back
            // for thieves; `waitForStolenJob` pops it again if nobody takes it.
            me.pointee.deque.push(top)
            sleep.notifyWorkAvailable()
        }
        waitForStolenJob(job, on: me)
        return false
    }

    /// Pushes a scope spawn record onto the current participant's deque.
    func pushSpawnRecord(_ job: JobRef, on me: UnsafeMutablePointer<Participant>) {
        me.pointee.deque.push(job)
        sleep.notifyWorkAvailable()
    }

    /// Pushes a foreground heap job: onto the current participant's deque when the caller is a
    /// participant of this registry, else into the foreground injector.
    func pushForeground(_ job: HeapJob) {
        if let me = Participant.current(in: identity) {
            me.pointee.deque.push(JobRef(heap: job))
        } else {
            foreground.push(JobRef(heap: job))
        }
        sleep.notifyWorkAvailable()
    }

    // MARK: Background admission and shutdown

    /// Queues a background job; throws when shut down or at `maxPending`.
    func submitBackground(_ job: HeapJob) throws(ThreadPoolError) {
        try lifecycleLock.withLock { () throws(ThreadPoolError) in
            guard !isClosed else { throw .shutDown }
            if let max = configuration.maxPending {
                // Under the lock, so the check and the increment are one step for admissions;
                // starts only ever decrease the count, which keeps the bound safe.
                guard backgroundPending.load(ordering: .relaxed) < max else { throw .saturated(maxPending: max) }
            }
            backgroundPending.wrappingAdd(1, ordering: .relaxed)  // a count; orders nothing
            background.push(JobRef(heap: job))
        }
        sleep.notifyWorkAvailable()
    }

    enum Admission { case admitted, saturated, closed }

    /// One admission try that neither throws nor waits (for `run`, which decides itself).
    func tryAdmitBackground(_ job: HeapJob) -> Admission {
        let admission = lifecycleLock.withLock { () -> Admission in
            guard !isClosed else { return .closed }
            if let max = configuration.maxPending,
               backgroundPending.load(ordering: .relaxed) >= max {  // under the lock, like `submitBackground`
                return .saturated
            }
            backgroundPending.wrappingAdd(1, ordering: .relaxed)  // a count; orders nothing
            job.willBeQueued()
            background.push(JobRef(heap: job))
            return .admitted
        }
        if admission == .admitted { sleep.notifyWorkAvailable() }
        return admission
    }

    /// Queues a background job, suspending while `maxPending` jobs wait (the async admission).
    /// Throws `.shutDown` when the pool is (or gets) shut down meanwhile, and
    /// `CancellationError` when the awaiting task is cancelled before the job was accepted (the
    /// job then never runs).
    func submitBackgroundWaitingForRoom(_ job: HeapJob) async throws {
        guard let max = configuration.maxPending else {
            try submitBackground(job)
            return
        }
        var wasWoken = false
        while true {
            let id = capacityWaiters.makeID()
            let admitted: Bool
            do {
            admitted = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                    let outcome = lifecycleLock.withLock { () -> Result<Bool, any Error>? in
                        if isClosed { return .failure(ThreadPoolError.shutDown) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        // Register, then read the count: the order `CapacityWaiters` relies on.
                        capacityWaiters.register(id, continuation)
                        guard backgroundPending.load(ordering: .sequentiallyConsistent) < max else { return nil }
                        // Room after all. If a leaver already resumed us ("try again"), leave it at that.
                        guard capacityWaiters.remove(id) else { return nil }
                        backgroundPending.wrappingAdd(1, ordering: .relaxed)  // a count; orders nothing
                        job.willBeQueued()
                        background.push(JobRef(heap: job))
                        return .success(true)
                    }
                    if let outcome { continuation.resume(with: outcome) }
                }
            } onCancel: {
                capacityWaiters.cancel(id)
            }
            } catch {
                // Woken for a free place but leaving without it (cancelled, shut down): pass the
                // wake-up on, or the next waiter would sleep beside a free place.
                if wasWoken { capacityWaiters.wakeOne() }
                throw error
            }
            if admitted {
                sleep.notifyWorkAvailable()
                return
            }
            wasWoken = true
        }
    }

    /// Queues a Swift job (the pool as a `TaskExecutor`); returns false when the pool is closed
    /// (the caller then hands the job to another executor: a job must never be dropped).
    /// Not bounded by `maxPending`: a job is a task's continuation, which cannot be refused.
    func admitExecutorJob(_ job: UnownedJob) -> Bool {
        let admitted = lifecycleLock.withLock { () -> Bool in
            guard !isClosed else { return false }
            background.push(JobRef(executorJob: job))
            return true
        }
        if admitted { sleep.notifyWorkAvailable() }
        return admitted
    }

    /// Counts a task outcome on the calling participant's own counters, or on the shared ones
    /// from any other thread.
    func record(_ outcome: TaskOutcome) {
        if let me = Participant.current(in: identity) {
            switch outcome {
            case .completed: me.pointee.bump(me.pointee.completedTasks)
            case .failed: me.pointee.bump(me.pointee.failedTasks)
            case .cancelled: me.pointee.bump(me.pointee.cancelledTasks)
            }
        } else {
            // Relaxed: counters, read as a racy sum.
            switch outcome {
            case .completed: outsideCompleted.wrappingAdd(1, ordering: .relaxed)
            case .failed: outsideFailed.wrappingAdd(1, ordering: .relaxed)
            case .cancelled: outsideCancelled.wrappingAdd(1, ordering: .relaxed)
            }
        }
    }

    /// A background job left the accepted-but-not-started state: its place is free again.
    func leavePending() {
        // Sequentially consistent: decrement, then look for waiters (see `CapacityWaiters`).
        backgroundPending.subtract(1, ordering: .sequentiallyConsistent)
        capacityWaiters.wakeOne()
    }

    /// After a graceful shutdown's deadline: takes every background job that has not started out
    /// of the queue. Submitted tasks are cancelled (their handles report it), spawned closures
    /// are counted as cancelled, and Swift jobs go to the global executor (a task's continuation
    /// must run). Returns how many tasks were cancelled.
    func cancelQueuedBackgroundWork() -> Int {
        var cancelled = 0
        for i in 0..<maxWorkers {
            while let job = participant(at: i).pointee.backgroundInbox.pop() {
                if let part = job.takeHeapJob() as? CancellableJob, part.cancelBeforeStart() { cancelled += 1 }
            }
        }
        while let job = background.pop() {
            if job.isExecutorJob {
                globalConcurrentExecutor.enqueue(job.executorJob)
                continue
            }
            // Only heap jobs (spawn, submit) are queued in the background tier besides Swift jobs.
            let heapJob = job.takeHeapJob()
            if let submitted = heapJob as? CancellableJob {
                if submitted.cancelBeforeStart() { cancelled += 1 }
            } else {
                if heapJob.leavesPendingOnDequeue { leavePending() }
                record(.cancelled)
                cancelled += 1
            }
        }
        return cancelled
    }
}

/// A queued job that can report its own cancellation (a submitted task).
protocol CancellableJob: AnyObject {
    /// Cancels the task if it has not started; says whether it did.
    func cancelBeforeStart() -> Bool
}

/// How a background task ended (for the metrics).
enum TaskOutcome {
    case completed, failed, cancelled
}

/// An outside thread's temporary membership, returned by `Registry.enterExternal()`.
@usableFromInline
struct ExternalParticipant {
    @usableFromInline let participant: UnsafeMutablePointer<Participant>
    let previous: UnsafeMutableRawPointer?
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
        let registry = me.pointee.registry.takeUnretainedValue()
        while !wait(timeoutNanoseconds: registry.heartbeat.intervalNanoseconds) {
            registry.serveInboxes(of: me)
        }
    }
}
