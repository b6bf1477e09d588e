import Synchronization

extension ThreadPool {
    /// A snapshot of what a pool is doing and has done, for dashboards and health checks.
    ///
    /// ```swift
    /// let m = pool.metrics
    /// print("busy \(m.busyThreads)/\(m.threadCount), utilisation \(m.utilization), ok \(m.successRate)")
    /// ```
    ///
    /// Counters are kept per worker, each on its owner's cache lines and written without
    /// read-modify-write, and summed when you ask: a snapshot is cheap to take but not atomic
    /// across fields (each is exact for some moment during the call).
    public struct Metrics: Sendable, Equatable {
        /// Worker threads.
        public var threadCount: Int
        /// Workers running a job right now.
        public var busyThreads: Int
        /// Foreground jobs (promoted joins, scope spawns, broadcast parts) waiting in queues.
        public var queuedForegroundJobs: Int
        /// Background jobs (tasks, `run` calls, Swift jobs of tasks that prefer the pool) waiting.
        public var queuedBackgroundJobs: Int
        /// Background tasks accepted but not started, and async tasks accepted but not finished:
        /// what `maxPending` bounds.
        public var pendingTasks: Int
        /// The configured bound, if any.
        public var maxPending: Int?
        /// Background tasks (`spawn`, `submit`, `run`) that finished normally.
        public var completedTasks: Int
        /// Background tasks that threw.
        public var failedTasks: Int
        /// Background tasks cancelled before they started (by their handle, their awaiting task,
        /// or a graceful shutdown's deadline).
        public var cancelledTasks: Int
        /// Tasks that ran past their timeout (`Configuration.taskTimeout` or their own): async ones
        /// were cancelled (and are counted in `failedTasks` too), synchronous ones ran to their end.
        public var timedOutTasks: Int = 0
        /// Swift jobs run for tasks that prefer the pool as their executor.
        public var executorJobs: Int
        /// Jobs taken from another thread's deque.
        public var steals: Int
        /// Joins made stealable: offered joins published on a deque, and splits of parallel loops.
        /// (The name predates offered joins being published at once rather than on a heartbeat.)
        public var heartbeatPromotions: Int
        /// Time the workers spent running jobs, added over all workers.
        public var busyTime: Duration
        /// The span `utilization` covers: the pool's lifetime, or for `metrics(every:)`, the
        /// interval since the previous snapshot.
        public var interval: Duration
        /// Busy time over wall time times threads, in 0...1, over `interval`.
        public var utilization: Double
        /// `pendingTasks / maxPending` (how close admission is to refusing work), or `nil`
        /// without a bound.
        public var queuePressure: Double?
        /// `completedTasks` over all finished tasks (completed, failed, cancelled); 1 before any.
        public var successRate: Double
    }

    /// A snapshot of the pool's metrics now; `utilization` covers the pool's whole lifetime.
    ///
    /// ```swift
    /// if pool.metrics.queuePressure ?? 0 > 0.9 { shedLoad() }
    /// ```
    public var metrics: Metrics {
        var snapshot = registry.takeMetrics()
        snapshot.applyUtilization(over: .nanoseconds(monotonicNanoseconds() - registry.startedAt), busy: snapshot.busyTime)
        return snapshot
    }

    /// Snapshots of the pool's metrics every `interval`, each with `utilization` over the interval
    /// since the previous one. The stream ends when the consuming task is cancelled or the pool
    /// is shut down.
    ///
    /// ```swift
    /// for await m in pool.metrics(every: .seconds(10)) {
    ///     print("spindle utilisation \(m.utilization), queued \(m.queuedBackgroundJobs)")
    /// }
    /// ```
    /// - Precondition: `interval` is positive.
    public func metrics(every interval: Duration) -> AsyncStream<Metrics> {
        precondition(interval > .zero, "metrics(every:) needs a positive interval, got \(interval)")
        let registry = self.registry
        return AsyncStream { continuation in
            let producer = Task {
                var previous = registry.takeMetrics()
                var previousTime = monotonicNanoseconds()
                while !Task.isCancelled && !registry.isShutDown {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    var snapshot = registry.takeMetrics()
                    let now = monotonicNanoseconds()
                    snapshot.applyUtilization(
                        over: .nanoseconds(now - previousTime),
                        busy: snapshot.busyTime - previous.busyTime)
                    previous = snapshot
                    previousTime = now
                    continuation.yield(snapshot)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in producer.cancel() }
        }
    }
}

extension ThreadPool.Metrics {
    /// Sets `interval` to `span` and `utilization` to `busyDuring` (busy time summed over the
    /// workers within `span`) over `span` times the threads.
    mutating func applyUtilization(over span: Duration, busy busyDuring: Duration) {
        interval = span
        let wall = Double(span.components.seconds) + Double(span.components.attoseconds) / 1e18
        let busy = Double(busyDuring.components.seconds) + Double(busyDuring.components.attoseconds) / 1e18
        utilization = wall > 0 && threadCount > 0 ? Swift.min(1, Swift.max(0, busy / (wall * Double(threadCount)))) : 0
    }
}

extension Registry {
    /// Sums the per-participant counters (relaxed loads: a snapshot orders nothing).
    func takeMetrics() -> ThreadPool.Metrics {
        var promotions = 0, steals = 0, completed = 0, failed = 0, cancelled = 0, jobs = 0
        var queuedForeground = foreground.count
        var busyThreads = 0
        var busyNanoseconds: Int64 = 0
        let now = monotonicNanoseconds()
        for i in 0..<slotCount.load(ordering: .acquiring) {  // pairs with slot publication
            let p = participant(at: i)
            promotions &+= p.pointee.promotions.load(ordering: .relaxed)
            steals &+= p.pointee.steals.load(ordering: .relaxed)
            completed &+= p.pointee.completedTasks.load(ordering: .relaxed)
            failed &+= p.pointee.failedTasks.load(ordering: .relaxed)
            cancelled &+= p.pointee.cancelledTasks.load(ordering: .relaxed)
            jobs &+= p.pointee.executorJobs.load(ordering: .relaxed)
            queuedForeground &+= Swift.max(0, p.pointee.deque.approximateCount)
            guard p.pointee.isWorker else { continue }
            busyNanoseconds &+= p.pointee.busyNanoseconds.load(ordering: .relaxed)
            let since = p.pointee.busySince.load(ordering: .relaxed)
            if since != 0 {
                busyThreads += 1
                busyNanoseconds &+= Swift.max(0, now - since)
            }
        }
        completed &+= outsideCompleted.load(ordering: .relaxed)
        failed &+= outsideFailed.load(ordering: .relaxed)
        cancelled &+= outsideCancelled.load(ordering: .relaxed)
        let pending = Swift.max(0, pendingPlaces.count)
        let maxPending = configuration.maxPending
        let finished = completed + failed + cancelled
        return ThreadPool.Metrics(
            threadCount: workerCount,
            busyThreads: busyThreads,
            queuedForegroundJobs: queuedForeground,
            queuedBackgroundJobs: background.count,
            pendingTasks: pending,
            maxPending: maxPending,
            completedTasks: completed,
            failedTasks: failed,
            cancelledTasks: cancelled,
            timedOutTasks: timedOutTasks.load(ordering: .relaxed),
            executorJobs: jobs,
            steals: steals,
            heartbeatPromotions: promotions,
            busyTime: .nanoseconds(busyNanoseconds),
            interval: .zero,
            utilization: 0,
            queuePressure: maxPending.map { Double(pending) / Double($0) },
            successRate: finished == 0 ? 1 : Double(completed) / Double(finished))
    }
}

extension ThreadPool {
    /// Totals of heartbeat promotions and successful steals (what spindle-bench prints; the full
    /// picture is `metrics`). SPI: `@_spi(SchedulerCounters) import Spindle`.
    @_spi(SchedulerCounters)
    public var _schedulerCounters: (promotions: Int, steals: Int) {
        let m = registry.takeMetrics()
        return (m.heartbeatPromotions, m.steals)
    }

    /// A snapshot of the scheduler's sleep and slot state, for a human reading a stall report
    /// (spindle-stress): the listed sleepers, the searcher count, each slot's lifecycle state,
    /// retirement flag and queue lengths, the background queue's length. Racy by nature.
    @_spi(SchedulerCounters)
    public var _schedulerState: String {
        let (sleepers, searchers) = registry.sleep.diagnosticState
        var text = "sleepers \(sleepers), searchers \(searchers), active \(registry.activeWorkers.load(ordering: .relaxed))"
        text += ", background \(registry.background.count), foreground \(registry.foreground.count)"
        let slots = registry.lifecycleLock.withLock { registry.lifecycle.slots.map(\.state) }
        for (i, state) in slots.enumerated() where state != .vacant {
            let p = registry.participant(at: i)
            text += "; slot \(i) \(state) retire \(p.pointee.retireRequested.load(ordering: .relaxed))"
            text += " inbox \(p.pointee.inbox.count) bgInbox \(p.pointee.backgroundInbox.count)"
            text += " deque empty \(p.pointee.deque.isProbablyEmpty)"
        }
        return text
    }
}
