import Synchronization

/// Admission of background work under `maxPending`.
///
/// Each admitted job takes a `PendingPlace` (Primitives/PendingPlaces.swift) and hands it to the
/// job (`HeapJob.holdPlace`), which ends it when the job leaves the waiting room: when it starts
/// or is cancelled, whichever comes first. No lock is taken when there is room: the admission
/// passes the pool's `AdmissionGate` (which closing the pool shuts and drains, so no job slips
/// into a pool whose workers decided to exit), takes a place with a compare-and-swap, and pushes
/// into the submitting thread's shard of the background queue.
extension Registry {
    /// What one admission try found.
    enum Admission { case admitted, saturated, closed }

    /// Takes a place and hands it to `start` (which queues the work), or says why not.
    /// Lock-free but for the queue shard's lock.
    private func admit(_ start: (consuming PendingPlace) -> Void) -> Admission {
        guard admissionGate.enter() else { return .closed }
        defer { admissionGate.leave() }
        guard let place = pendingPlaces.take() else { return .saturated }
        start(place)
        return .admitted
    }

    /// Takes a place and queues `job`, or says why not.
    private func admit(_ job: HeapJob) -> Admission {
        admit { place in
            job.holdPlace(place)
            background.push(JobRef(heap: job))
        }
    }

    /// One admission try for work that queues itself (an async task, whose Swift jobs enter the
    /// pool through its executor): `start` gets the place when there is room.
    func tryAdmit(starting start: (consuming PendingPlace) -> Void) throws(ThreadPoolError) {
        switch admit(start) {
        case .admitted: return
        case .closed: throw .shutDown
        case .saturated: throw .saturated(maxPending: pendingPlaces.bound ?? 0)
        }
    }

    /// One admission try that neither throws nor waits (for `run`, which decides itself).
    func tryAdmitBackground(_ job: HeapJob) -> Admission {
        let admission = admit(job)
        if admission == .admitted { sleep.notifyWorkAvailable() }
        return admission
    }

    /// Queues a background job; throws `.shutDown` when closed and `.saturated` at `maxPending`.
    func submitBackground(_ job: HeapJob) throws(ThreadPoolError) {
        switch tryAdmitBackground(job) {
        case .admitted: return
        case .closed: throw .shutDown
        case .saturated: throw .saturated(maxPending: pendingPlaces.bound ?? 0)
        }
    }

    /// Queues a background job, suspending while `maxPending` jobs wait (the async admission),
    /// oldest waiter first. Throws `.shutDown` when the pool is (or gets) shut down meanwhile,
    /// and `CancellationError` when the awaiting task is cancelled before the job was accepted
    /// (the job then never runs), even when the cancellation lands while it registers.
    func submitBackgroundWaitingForRoom(_ job: HeapJob) async throws {
        guard pendingPlaces.bound != nil else { return try submitBackground(job) }  // never waits
        try await admitWaitingForRoom(
            immediately: { () throws(ThreadPoolError) in try submitBackground(job) },
            admit: { admit(job) })
        sleep.notifyWorkAvailable()
    }

    /// Admits work that queues itself (an async task), suspending while `maxPending` places are
    /// taken, as `submitBackgroundWaitingForRoom`: `start` gets the place.
    func admitWaitingForRoom(starting start: (consuming PendingPlace) -> Void) async throws {
        try await admitWaitingForRoom(
            immediately: { () throws(ThreadPoolError) in try tryAdmit(starting: start) },
            admit: { admit(start) })
    }

    /// The waiting admission under both: `immediately` when there is no bound (it never waits),
    /// else `admit` tries, under the lifecycle lock, each time a place may have come free.
    private func admitWaitingForRoom(
        immediately: () throws(ThreadPoolError) -> Void,
        admit: () -> Admission
    ) async throws {
        guard pendingPlaces.bound != nil else { return try immediately() }  // never waits
        let waiters = pendingPlaces.waiters
        // With room and nobody waiting, admit without suspending (the common case of a flood
        // that has not reached the bound). Waiters, if any, are served first: the loop below.
        if waiters.isEmpty {
            if Task.isCancelled { throw CancellationError() }
            switch admit() {
            case .admitted: return
            case .closed: throw ThreadPoolError.shutDown
            case .saturated: break
            }
        }
        var wasWoken = false
        while true {
            let id = waiters.makeID()
            let admitted: Bool
            do {
                defer { waiters.forget(id) }  // a tombstone of a cancellation that found no waiter
                defer { sanitizerSeesResumption() }  // a giver may resume before the closure returns
                admitted = try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                        let outcome = lifecycleLock.withLock { () -> Result<Bool, any Error>? in
                            if isClosed { return .failure(ThreadPoolError.shutDown) }
                            if Task.isCancelled { return .failure(CancellationError()) }
                            // Register, then read the count: the order `CapacityWaiters` relies on.
                            guard waiters.register(id, continuation) else { return .failure(CancellationError()) }
                            guard !pendingPlaces.isFull else { return nil }
                            // Room after all. If a giver already resumed us ("try again"), leave it at that.
                            guard waiters.remove(id) else { return nil }
                            // Another submitter may take the place first (they take no lock): then
                            // this one tries again.
                            switch admit() {
                            case .admitted: return .success(true)
                            case .saturated: return .success(false)
                            case .closed: return .failure(ThreadPoolError.shutDown)
                            }
                        }
                        if let outcome { continuation.resume(with: outcome) }
                    }
                } onCancel: {
                    waiters.cancel(id)
                }
            } catch {
                // Woken for a free place but leaving without it (cancelled, shut down): pass the
                // wake-up on, or the next waiter would sleep beside a free place.
                if wasWoken { waiters.wakeOne() }
                throw error
            }
            if admitted { return }
            wasWoken = true
        }
    }
}
