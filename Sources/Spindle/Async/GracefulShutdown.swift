import CSpindle

extension ThreadPool {
    /// `shutdown()` for async code: the same guarantees, with the caller suspended instead of
    /// blocked while the workers run what is queued and exit.
    ///
    /// ```swift
    /// try pool.spawn { flushCaches() }
    /// await pool.shutdown()   // flushCaches() has run, the worker threads are gone
    /// ```
    /// The waiting is done by a short-lived thread of its own, so no thread of Swift's
    /// cooperative pool is held. From a task that runs on this pool's workers it only closes the
    /// pool and returns, as `shutdown()` does from inside the pool.
    /// - Precondition: the pool is not `ThreadPool.shared`, which is never shut down.
    @concurrent
    public func shutdown() async {
        precondition(!isPerpetual, Self.perpetualMessage("shutdown()"))
        let registry = self.registry
        if registry.callerIsInsidePool { return registry.shutdown() }  // returns at once there
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            spawnDetachedThread(name: "spindle-shutdown") {
                registry.shutdown()
                continuation.resume()
            }
        }
        sanitizerSeesResumption()  // the thread may end before the closure returns
    }

    /// Shuts the pool down gracefully: stops admission at once (new background work throws
    /// `ThreadPoolError.shutDown`, and async submitters waiting at `maxPending` are ended with
    /// it), lets running and queued work finish until `gracePeriod` has passed, then cancels the
    /// background tasks that still have not started (their handles throw `CancellationError`;
    /// nothing is dropped silently) and returns whether everything finished in time.
    ///
    /// ```swift
    /// let clean = await pool.shutdown(gracePeriod: .seconds(30))
    /// if !clean { logger.warning("some pool work was cancelled at shutdown") }
    /// ```
    /// Suspends, never blocks the calling thread. Work already running is never interrupted:
    /// when the deadline finds some, this returns `false` and the worker threads exit by
    /// themselves once it ends. Swift jobs of tasks that prefer this pool and arrive after the
    /// shutdown run on the global concurrent executor. Calling it again (or after `shutdown()`)
    /// waits, up to `gracePeriod`, for the first shutdown to finish.
    /// - Precondition: `gracePeriod` is not negative.
    /// - Precondition: the pool is not `ThreadPool.shared`, which is never shut down.
    @concurrent
    public func shutdown(gracePeriod: Duration) async -> Bool {
        precondition(!isPerpetual, Self.perpetualMessage("shutdown(gracePeriod:)"))
        precondition(gracePeriod >= .zero, "shutdown(gracePeriod:) needs a non-negative grace period, got \(gracePeriod)")
        let deadline = ContinuousClock.now.advanced(by: gracePeriod)
        // It suspends and never blocks a thread, so it may finish the shutdown from anywhere.
        switch registry.close(callerIsInside: false) {
        case .returnAtOnce, .waitForFinish:
            return await Self.poll(until: deadline) { self.registry.isShutdownFinished }
        case .mustFinish:
            break
        }
        if await Self.poll(until: deadline, { self.registry.haveWorkersLeft }) {
            registry.finishShutdown()  // every thread has left its loop: the joins return at once
            return true
        }
        let cancelled = registry.cancelQueuedBackgroundWork()
        // The cancellations may have been all that was left; otherwise the last worker to leave
        // finishes the shutdown.
        if registry.haveWorkersLeft || !registry.handShutdownToLastWorker() {
            registry.finishShutdown()
            return cancelled == 0
        }
        return false
    }

    /// Polls `condition` (suspended between looks, 1 ms at first, up to 10 ms) until it holds or
    /// `deadline` passes; returns whether it held. Cancellation does not shorten the grace period.
    private static func poll(until deadline: ContinuousClock.Instant, _ condition: @Sendable () -> Bool) async -> Bool {
        var pause = Duration.milliseconds(1)
        while !condition() {
            let now = ContinuousClock.now
            if now >= deadline { return condition() }
            let nap = min(pause, deadline - now)
            if Task.isCancelled {
                // A cancelled task's sleep returns at once: nap in a task of its own (one that
                // does not inherit the cancellation) rather than spin until the deadline.
                await Task.detached { try? await Task.sleep(for: nap) }.value
            } else {
                try? await Task.sleep(for: nap)
            }
            pause = min(pause * 2, .milliseconds(10))
        }
        return true
    }
}
