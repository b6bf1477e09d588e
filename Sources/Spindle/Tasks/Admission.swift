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

    /// Takes a place and queues `job`, or says why not. Lock-free but for the queue shard's lock.
    private func admit(_ job: HeapJob) -> Admission {
        guard admissionGate.enter() else { return .closed }
        defer { admissionGate.leave() }
        guard let place = pendingPlaces.take() else { return .saturated }
        job.holdPlace(place)
        background.push(JobRef(heap: job))
        return .admitted
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
        let waiters = pendingPlaces.waiters
        var wasWoken = false
        while true {
            let id = waiters.makeID()
            let admitted: Bool
            do {
                defer { waiters.forget(id) }  // a tombstone of a cancellation that found no waiter
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
                            switch admit(job) {
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
            if admitted {
                sleep.notifyWorkAvailable()
                return
            }
            wasWoken = true
        }
    }
}
