import Synchronization

/// The background tier's queue as the scheduler sees it: Swift jobs, task outcomes for the
/// metrics, and emptying the queue at a graceful shutdown's deadline. (Admission under
/// `maxPending` is the tasks layer's: Tasks/Admission.swift.)
extension Registry {
    /// Queues a Swift job (the pool as a `TaskExecutor`); returns false when the pool is closed
    /// (the caller then hands the job to another executor: a job must never be dropped).
    /// Not bounded by `maxPending`: a job is a task's continuation, which cannot be refused.
    func admitExecutorJob(_ job: UnownedJob) -> Bool {
        // Refused only once `isShutDown` already reads true (README §5, *refused before the flag*).
        guard admissionGate.enter() else { return false }
        background.push(JobRef(executorJob: job))
        admissionGate.leave()
        sleep.notifyWorkAvailable()
        return true
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

    /// After a graceful shutdown's deadline: takes every background job that has not started out
    /// of the queue. Submitted tasks are cancelled (their handles report it), spawned closures
    /// are counted as cancelled, and Swift jobs go to the global executor (a task's continuation
    /// must run). Returns how many tasks were cancelled.
    func cancelQueuedBackgroundWork() -> Int {
        var cancelled = 0
        for i in 0..<maxWorkers {
            while let job = participant(at: i).pointee.backgroundInbox.pop() {
                if cancelBeforeStart(job.takeHeapJob()) { cancelled += 1 }
            }
        }
        while let job = background.pop(startingAt: 0) {
            if job.isExecutorJob {
                globalConcurrentExecutor.enqueue(job.executorJob)
                continue
            }
            // Only heap jobs (spawn, submit, run) are queued in the background tier besides Swift jobs.
            if cancelBeforeStart(job.takeHeapJob()) { cancelled += 1 }
        }
        return cancelled
    }

    /// Cancels a background job this thread took out of a queue; says whether it was cancelled
    /// (false: it had been started or cancelled elsewhere).
    private func cancelBeforeStart(_ job: HeapJob) -> Bool {
        job.leaveQueue()
        guard job.cancelBeforeStart() else { return false }
        if !job.recordsOwnOutcome { record(.cancelled) }
        return true
    }
}

/// How a background task ended (for the metrics).
enum TaskOutcome {
    case completed, failed, cancelled

    init<T, E>(_ result: Result<T, E>) {
        if case .success = result { self = .completed } else { self = .failed }
    }
}
