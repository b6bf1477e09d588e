import CSpindle

/// A pool's lifecycle and the state of every worker slot: one value, changed only under
/// `Registry.lifecycleLock` (the lock background admission and broadcasts also take), so each
/// transition below is a single step for all of them. Every path that starts, resizes or stops
/// workers goes through it: `start`, `resize(to:)`, `shutdown()`, `shutdown(gracePeriod:)`,
/// `deinit` and the lifecycle service (which calls the graceful shutdown). Named interleavings:
/// Scheduler/README.md §4.
///
/// The pool:
///
///     running ──close──▶ closing(finisher) ──last worker left──▶ finished
///
/// - `closing(.outsideCaller)`: a thread outside the pool called `shutdown()`. It waits until the
///   last worker has left, joins every thread, stops the heartbeat and sets `finished`. Any other
///   outside caller, earlier or later, waits for `finished`.
/// - `closing(.lastWorker)`: nobody outside waits (the first call came from inside the pool, or a
///   graceful shutdown's deadline passed with work still running). The last worker to leave
///   detaches every thread, stops the heartbeat and sets `finished`. An outside caller arriving
///   meanwhile takes the role over (`closing(.outsideCaller)`), so that it returns only once the
///   threads are joined.
///
/// A worker slot:
///
///     vacant ──start──▶ running ──shrink──▶ retiring ──worker acknowledges──▶ leaving ──worker left──▶ vacant
///                          ▲                   │                                 │
///                          └── grow (cancels the retirement, no thread started) ◀┘
///
/// A grow never waits for a retiring worker (it may be the caller's own thread, inside a job): it
/// cancels the retirement, and the worker goes on as if it had never been told. Only a vacant slot
/// gets a new thread, after its previous thread has been joined; a thread touches nothing of its
/// slot's participant once it made the slot vacant, so that join returns at once.
///
/// Invariants (checked by `assertInvariants` in debug builds):
/// - slots `0..<activeWorkers` are `running` while the pool runs; the others are never `running`;
/// - `liveWorkers` is the number of slots that are not `vacant`;
/// - `finished` only when `liveWorkers == 0`.
struct PoolLifecycle {
    enum Phase: Equatable {
        case running
        case closing(Finisher)
        case finished
    }

    /// Who completes a shutdown once the last worker has left.
    enum Finisher: Equatable {
        case outsideCaller
        case lastWorker
    }

    enum SlotState: Equatable {
        case vacant, running, retiring, leaving
    }

    struct Slot {
        var state = SlotState.vacant
        /// The thread last started on the slot, until somebody joins or detaches it.
        var thread: WorkerThread?
    }

    var phase = Phase.running
    var slots: [Slot]
    /// Slots whose thread is still in its loop (`running`, `retiring` or `leaving`).
    var liveWorkers = 0

    init(slotCount: Int) {
        slots = Array(repeating: Slot(), count: slotCount)
    }

    /// Takes every thread handle still held (for a join or a detach).
    mutating func takeThreads() -> [WorkerThread] {
        var threads: [WorkerThread] = []
        for i in slots.indices {
            if let thread = slots[i].thread {
                threads.append(thread)
                slots[i].thread = nil
            }
        }
        return threads
    }

    func assertInvariants(activeWorkers: Int) {
        #if DEBUG
            let live = slots.count { $0.state != .vacant }
            assert(live == liveWorkers, "liveWorkers \(liveWorkers) but \(live) slots are in use")
            if phase == .running {
                for i in slots.indices {
                    assert(
                        (slots[i].state == .running) == (i < activeWorkers),
                        "slot \(i) is \(slots[i].state) with \(activeWorkers) active workers")
                }
            }
            if phase == .finished { assert(liveWorkers == 0, "finished with \(liveWorkers) live workers") }
        #endif
    }
}

/// Why a worker left its loop.
enum WorkerExit {
    /// It acknowledged a retirement and handed its work on.
    case retired
    /// The pool is closed and it found nothing left to run.
    case shutDown
}

/// What a call that closes the pool does next (see `PoolLifecycle`).
enum CloseOutcome {
    /// Wait for the last worker to leave, then `finishShutdown()`.
    case mustFinish
    /// Somebody else finishes: wait for `shutdownFinished`.
    case waitForFinish
    /// The caller is inside the pool's work and must not wait.
    case returnAtOnce
}

extension Registry {
    // MARK: Starting

    /// Creates worker participants and starts the threads.
    func start() throws(ThreadPoolError) {
        // Every worker slot gets its participant now, so that scans never meet an empty slot;
        // the ones beyond `activeWorkers` stay idle (empty queues) until `resize` uses them.
        for i in 0..<maxWorkers {
            // SAFETY: `i < maxWorkers <= slotCapacity`, and no thread reads the table before the workers start.
            unsafe slots[i] = Participant.allocate(registry: self, index: i, isWorker: true)
        }
        slotCount.store(maxWorkers, ordering: .releasing)  // pairs with acquiring loads in scans
        heartbeat.start(registry: self)
        do {
            try lifecycleLock.withLock { () throws(ThreadPoolError) in
                for i in 0..<configuration.threads {
                    try startWorker(at: i)
                    activeWorkers.store(i + 1, ordering: .relaxed)  // a count; the lock orders it for admissions
                }
            }
        } catch {
            shutdown()
            throw error
        }
        cpuLimitWatcher?.start(registry: self)
    }

    /// Starts a thread on vacant slot `index`, after joining the slot's previous thread.
    /// Under `lifecycleLock`.
    private func startWorker(at index: Int) throws(ThreadPoolError) {
        precondition(lifecycle.slots[index].state == .vacant, "worker slot \(index) is in use")
        // The previous thread made the slot vacant as its last access to it, and takes no lock
        // after that: joining it here, under the lock, returns at once.
        lifecycle.slots[index].thread?.join()
        lifecycle.slots[index].thread = nil
        participant(at: index).pointee.retireRequested.store(false, ordering: .relaxed)  // published by the thread start
        let thread = try WorkerThread.start(registry: self, index: index)
        lifecycle.slots[index] = PoolLifecycle.Slot(state: .running, thread: thread)
        lifecycle.liveWorkers += 1
    }

    // MARK: Resizing

    /// Grows or shrinks the set of workers to `count`.
    ///
    /// Shrinking marks the highest workers as retiring and wakes them: each finishes the job it
    /// is running, runs what only it can run (its broadcast inboxes), moves anything left on its
    /// deque to the foreground injector, and leaves. Growing cancels retirements still in
    /// progress and starts threads on vacant slots. `activeWorkers` changes under
    /// `lifecycleLock`, the lock broadcasts admit under, so no broadcast targets a worker after
    /// it was told to retire, and one admitted before is in its inbox when the worker
    /// acknowledges (under the same lock).
    ///
    /// From outside the pool, returns once the retired threads have exited; from inside (where
    /// the caller may be one of them) at once.
    func resize(to count: Int) throws(ThreadPoolError) {
        guard count >= 1, count <= maxWorkers else { throw .invalidThreadCount(count) }
        let retired = try lifecycleLock.withLock { () throws(ThreadPoolError) -> Range<Int> in
            guard lifecycle.phase == .running else { throw .shutDown }
            defer { lifecycle.assertInvariants(activeWorkers: activeWorkers.load(ordering: .relaxed)) }
            let current = activeWorkers.load(ordering: .relaxed)
            blockingSections.sparesStarted = 0  // an explicit width replaces the blocking sections' spares
            if count < current {
                for i in (count..<current).reversed() { retireHighestSlot(i) }
                return count..<current
            }
            for i in current..<count { try activateSlot(i) }
            return count..<count
        }
        for i in retired { participant(at: i).pointee.parker.unpark() }
        sleep.wakeAll()
        if retired.isEmpty {
            noteSlotsChanged()  // a grow may have cancelled a retirement someone waits for
        } else if !callerIsInsidePool {
            waitForRetirements(retired)
        }
    }

    /// Puts slot `i` (the first beyond the active workers) to work: cancels its retirement if its
    /// thread is still on its way out, else starts a thread on it. Under `lifecycleLock`.
    func activateSlot(_ i: Int) throws(ThreadPoolError) {
        precondition(i == activeWorkers.load(ordering: .relaxed), "slot \(i) is not the next one")
        switch lifecycle.slots[i].state {
        case .retiring, .leaving:
            // Cancel the retirement: the thread is still in its loop (see `leaveSlot`).
            lifecycle.slots[i].state = .running
            participant(at: i).pointee.retireRequested.store(false, ordering: .relaxed)  // the worker re-checks under the lock
        case .vacant:
            try startWorker(at: i)
        case .running:
            preconditionFailure("worker slot \(i) beyond the active workers is running")
        }
        activeWorkers.store(i + 1, ordering: .relaxed)  // a count; the lock orders it for admissions
    }

    /// Marks the highest active slot, `i`, as retiring and tells its worker. Under `lifecycleLock`.
    func retireHighestSlot(_ i: Int) {
        precondition(i == activeWorkers.load(ordering: .relaxed) - 1, "slot \(i) is not the highest")
        lifecycle.slots[i].state = .retiring
        participant(at: i).pointee.retireRequested.store(true, ordering: .releasing)  // pairs with the worker's acquiring load
        activeWorkers.store(i, ordering: .relaxed)  // a count; the lock orders it for admissions
    }

    /// Waits until every slot in `indices` has left or was put back to work, joining the threads
    /// that left. Only from outside the pool: a retiring worker may be waiting for the caller.
    private func waitForRetirements(_ indices: Range<Int>) {
        while true {
            // Acquiring: pairs with the releasing bump in `leaveSlot`.
            let ticket = slotsChanged.withAtomic { $0.load(ordering: .acquiring) }
            let (threads, pending) = lifecycleLock.withLock { () -> ([WorkerThread], Bool) in
                var threads: [WorkerThread] = []
                var pending = false
                for i in indices {
                    switch lifecycle.slots[i].state {
                    case .retiring, .leaving: pending = true
                    case .vacant:
                        if let thread = lifecycle.slots[i].thread { threads.append(thread) }
                        lifecycle.slots[i].thread = nil
                    case .running: break  // put back to work by a later grow
                    }
                }
                return (threads, pending)
            }
            for thread in threads { thread.join() }
            if !pending { return }
            slotsChanged.wait(whileEqualTo: ticket)
        }
    }

    /// Wakes `waitForRetirements` callers after slots left or were put back to work.
    func noteSlotsChanged() {
        // Releasing: pairs with `waitForRetirements`' acquiring ticket load (the state itself
        // is read under the lock).
        slotsChanged.withAtomic { $0.wrappingAdd(1, ordering: .releasing) }
        slotsChanged.wakeAll()
    }

    // MARK: A worker leaving

    /// A worker saw `retireRequested`: whether it is still to retire (the slot becomes
    /// `leaving`) or a grow cancelled the retirement meanwhile.
    func acknowledgeRetirement(_ index: Int) -> Bool {
        lifecycleLock.withLock {
            guard lifecycle.slots[index].state == .retiring else { return false }
            lifecycle.slots[index].state = .leaving
            return true
        }
    }

    /// A retiring worker's last act: run what only it can run, hand the rest of its deque to
    /// the other workers.
    func retireWorker(_ me: LivePointer<Participant>) {
        while let job = me.pointee.inbox.pop() ?? me.pointee.backgroundInbox.pop() {
            execute(job, on: me)
        }
        var handedOver = 0
        while let job = me.pointee.deque.pop() {
            foreground.push(job)
            handedOver += 1
        }
        if handedOver > 0 { sleep.notifyWorkAvailable(count: handedOver) }
    }

    /// A worker's thread has left its loop for `reason` and torn down its per-thread state.
    /// Returns whether the slot is now vacant (the thread must then not touch the participant
    /// again) or whether the worker must go back to work (its retirement was cancelled while it
    /// was on its way out).
    func leaveSlot(_ index: Int, reason: WorkerExit) -> Bool {
        let (left, finishAlone) = lifecycleLock.withLock { () -> (Bool, [WorkerThread]?) in
            switch (reason, lifecycle.slots[index].state) {
            case (.retired, .leaving), (.shutDown, .running), (.shutDown, .retiring):
                break
            case (.retired, .running):
                return (false, nil)
            default:
                preconditionFailure("worker \(index) left for \(reason) from state \(lifecycle.slots[index].state)")
            }
            lifecycle.slots[index].state = .vacant
            lifecycle.liveWorkers -= 1
            guard lifecycle.liveWorkers == 0, lifecycle.phase != .running else { return (true, nil) }
            workersGone.set()
            guard lifecycle.phase == .closing(.lastWorker) else { return (true, nil) }
            lifecycle.phase = .finished
            return (true, lifecycle.takeThreads())
        }
        if left { noteSlotsChanged() }
        if let threads = finishAlone {
            // The last worker of a pool nobody outside waits for: every other thread has left
            // its loop; this one is about to.
            for thread in threads { thread.detach() }
            heartbeat.stop()
            cpuLimitWatcher?.stop()
            shutdownFinished.set()
        }
        return left
    }

    // MARK: Shutting down

    /// Whether the calling thread is taking part in this pool's work: a worker or an outside
    /// participant of this pool, or a worker of this pool nested as an outsider in another pool.
    /// Such a thread must not wait for the workers: they may be waiting for it.
    var callerIsInsidePool: Bool {
        guard let me = Participant.current else { return false }
        if me.pointee.registryID == identity { return true }
        return me.pointee.homeWorker?.pointee.registryID == identity
    }

    /// `shutdown()`, `deinit`: closes admission, lets the workers run everything queued, then,
    /// from outside the pool, returns once every worker thread has exited and been joined and the
    /// heartbeat has stopped, whichever call got there first. From inside the pool's work (a
    /// worker, a job, a join's caller) it only closes the pool and returns: waiting there could
    /// deadlock, since a worker may be waiting for the caller; the last worker to leave then
    /// finishes the shutdown by itself, unless an outside caller comes to wait for it.
    func shutdown() {
        switch close(callerIsInside: callerIsInsidePool) {
        case .returnAtOnce:
            return
        case .waitForFinish:
            shutdownFinished.waitServingInboxes()
        case .mustFinish:
            workersGone.waitServingInboxes()
            finishShutdown()
        }
    }

    /// Stops admission (the first call) and wakes every worker; says what the caller does next.
    func close(callerIsInside: Bool) -> CloseOutcome {
        let (outcome, first) = lifecycleLock.withLock { () -> (CloseOutcome, Bool) in
            let first = lifecycle.phase == .running
            if first {
                // The flag first: an admission the gate refuses must find the pool shut down
                // (README §5, *refused before the flag*). Then the gate: every admission that got
                // through it has queued its job once `close` returns, so a worker that sees
                // `drainedFlag` and then finds nothing can exit.
                closedFlag.store(true, ordering: .releasing)  // pairs with `isShutDown`
                admissionGate.close()
                drainedFlag.store(true, ordering: .releasing)  // pairs with `isDrained`
                if lifecycle.liveWorkers == 0 { workersGone.set() }  // a failed start
            }
            switch lifecycle.phase {
            case .running, .closing(.lastWorker):
                if callerIsInside && lifecycle.liveWorkers > 0 {
                    lifecycle.phase = .closing(.lastWorker)
                    return (.returnAtOnce, first)
                }
                // Outside (or nobody left to finish it): this caller joins the threads.
                lifecycle.phase = .closing(.outsideCaller)
                return (.mustFinish, first)
            case .closing(.outsideCaller), .finished:
                return (callerIsInside ? .returnAtOnce : .waitForFinish, first)
            }
        }
        if first {
            pendingPlaces.waiters.failAll(with: ThreadPoolError.shutDown)
            cpuLimitWatcher?.requestStop()  // no resizes while the pool closes
        }
        sleep.wakeAll()
        return outcome
    }

    /// The finisher's part, once `workersGone` is set: joins every thread, stops the heartbeat,
    /// marks the shutdown finished.
    func finishShutdown() {
        let threads = lifecycleLock.withLock { lifecycle.takeThreads() }
        for thread in threads { thread.join() }
        heartbeat.stop()
        cpuLimitWatcher?.stop()
        lifecycleLock.withLock {
            lifecycle.phase = .finished
            lifecycle.assertInvariants(activeWorkers: 0)
        }
        shutdownFinished.set()
    }

    /// After a graceful shutdown's deadline, with work still running: the last worker to leave
    /// finishes the shutdown. Returns false when the workers have all left meanwhile (the caller
    /// then finishes it itself).
    func handShutdownToLastWorker() -> Bool {
        lifecycleLock.withLock {
            guard lifecycle.liveWorkers > 0 else { return false }
            lifecycle.phase = .closing(.lastWorker)
            return true
        }
    }

    var isShutDown: Bool { closedFlag.load(ordering: .acquiring) }  // pairs with `close`'s store

    /// Whether the closed pool's admission has drained: every admitted job is queued (the worker
    /// loop's exit condition).
    var isDrained: Bool { drainedFlag.load(ordering: .acquiring) }  // pairs with `close`'s store

    var isShutdownFinished: Bool { shutdownFinished.isSet }

    var haveWorkersLeft: Bool { workersGone.isSet }
}
