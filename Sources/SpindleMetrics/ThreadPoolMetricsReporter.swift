#if Metrics  // the package trait that brings in the dependency (Package.swift)
    import CoreMetrics
    import Spindle
    import Synchronization

    /// Reports a `ThreadPool`'s `metrics` through swift-metrics, to whichever backend the process
    /// bootstrapped (Prometheus, StatsD, OpenTelemetry, …).
    ///
    /// ```swift
    /// import Metrics
    /// import Spindle
    /// import SpindleMetrics
    ///
    /// MetricsSystem.bootstrap(myBackend)
    /// let pool = try ThreadPool(configuration: .cpuBound)
    /// let reporter = ThreadPoolMetricsReporter(pool: pool, name: "render")
    /// Task { await reporter.run(every: .seconds(10)) }   // until that task is cancelled
    /// ```
    ///
    /// Every metric carries the dimension `("pool", name)`. Levels are gauges:
    /// `spindle_threads`, `spindle_busy_threads`, `spindle_queued_foreground_jobs`,
    /// `spindle_queued_background_jobs`, `spindle_pending_tasks`, `spindle_utilization` (busy share
    /// of the workers since the previous report, or over the pool's lifetime at the first),
    /// `spindle_queue_pressure` (only for a pool with `maxPending`) and `spindle_success_rate`.
    /// Totals are counters: `spindle_completed_tasks`, `spindle_failed_tasks`,
    /// `spindle_cancelled_tasks`, `spindle_executor_jobs`, `spindle_steals` and
    /// `spindle_heartbeat_promotions`, each incremented by what the pool added since the previous
    /// report, so that a counter's total equals the pool's total (the first report adds everything
    /// counted since the pool started).
    ///
    /// The metric handles are made once, at `init`. The reporter keeps the pool alive; `report()`
    /// and `run(every:)` may be called from any thread or task.
    public final class ThreadPoolMetricsReporter: Sendable {
        /// The pool being reported.
        ///
        /// ```swift
        /// let reporter = ThreadPoolMetricsReporter(pool: pool, name: "render")
        /// assert(reporter.pool === pool)
        /// ```
        public let pool: ThreadPool

        /// The value of the `"pool"` dimension on every metric.
        ///
        /// ```swift
        /// ThreadPoolMetricsReporter(pool: pool, name: "render").name   // "render"
        /// ```
        public let name: String

        private let gauges: Gauges
        private let counters: Counters
        /// The snapshot and clock reading of the previous report: counters add the difference,
        /// utilisation covers the time in between. Held for the whole report, so that concurrent
        /// reports neither count a delta twice nor leave an older gauge value last.
        private let previous = Mutex<(metrics: ThreadPool.Metrics, at: ContinuousClock.Instant)?>(nil)

        /// A reporter for `pool`, whose metrics carry the dimension `("pool", name)`.
        ///
        /// ```swift
        /// let reporter = ThreadPoolMetricsReporter(pool: pool, name: "io")
        /// let testReporter = ThreadPoolMetricsReporter(pool: pool, name: "io", factory: TestMetrics())
        /// ```
        /// - Parameters:
        ///   - pool: The pool to report.
        ///   - name: Tells this pool's series from other pools' in the backend.
        ///   - factory: Makes the metric handles; `nil` uses `MetricsSystem.factory` as it is now
        ///     (the bootstrapped backend, or a task-local one bound with `withMetricsFactory`).
        public init(pool: ThreadPool, name: String, factory: (any MetricsFactory)? = nil) {
            let factory = factory ?? MetricsSystem.factory
            let dimensions = [("pool", name)]
            self.pool = pool
            self.name = name
            // `maxPending` is fixed at construction: without a bound there is no pressure to report,
            // and a gauge stuck at 0 would read as "no pressure" rather than "no limit".
            let bounded = pool.configuration.maxPending != nil
            gauges = Gauges(dimensions: dimensions, factory: factory, bounded: bounded)
            counters = Counters(dimensions: dimensions, factory: factory)
        }

        /// Takes one snapshot of the pool's metrics now and reports it.
        ///
        /// ```swift
        /// reporter.report()   // e.g. from a scrape hook, before the backend collects
        /// ```
        public func report() {
            previous.withLock { previous in
                let now = ContinuousClock.now
                let metrics = pool.metrics
                gauges.record(metrics, utilization: utilization(of: metrics, at: now, since: previous))
                counters.increment(from: previous?.metrics, to: metrics)
                previous = (metrics, now)
            }
        }

        /// Reports now and then every `interval` until the calling task is cancelled.
        ///
        /// ```swift
        /// let reporting = Task { await reporter.run(every: .seconds(10)) }
        /// // … at shutdown:
        /// reporting.cancel()
        /// ```
        /// Returns soon after cancellation, without a last report. The pool being shut down does not
        /// stop the reports: its counters stay readable and a last drain is worth seeing.
        /// - Precondition: `interval` is positive.
        public func run(every interval: Duration) async {
            precondition(interval > .zero, "run(every:) needs a positive interval, got \(interval)")
            let clock = ContinuousClock()
            var next = clock.now
            while !Task.isCancelled {
                report()
                // Fixed ticks, so slow reports do not stretch the period; ticks already missed are
                // skipped rather than reported in a burst.
                next = next.advanced(by: interval)
                let now = clock.now
                if next < now {
                    next = now.advanced(by: interval)
                }
                do {
                    try await clock.sleep(until: next)
                } catch {
                    return  // cancelled
                }
            }
        }

        /// Busy share of the workers since the previous report; the pool's own lifetime figure at
        /// the first one.
        private func utilization(
            of metrics: ThreadPool.Metrics,
            at now: ContinuousClock.Instant,
            since previous: (metrics: ThreadPool.Metrics, at: ContinuousClock.Instant)?
        ) -> Double {
            guard let previous else { return metrics.utilization }
            let wall = seconds(now - previous.at) * Double(metrics.threadCount)
            let busy = seconds(metrics.busyTime - previous.metrics.busyTime)
            guard wall > 0 else { return metrics.utilization }  // two reports in one clock tick
            return min(1, max(0, busy / wall))
        }
    }

    private func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    /// The gauges, one per level in `ThreadPool.Metrics`.
    private struct Gauges: Sendable {
        let threads: Gauge
        let busyThreads: Gauge
        let queuedForegroundJobs: Gauge
        let queuedBackgroundJobs: Gauge
        let pendingTasks: Gauge
        let utilization: Gauge
        let queuePressure: Gauge?
        let successRate: Gauge

        init(dimensions: [(String, String)], factory: any MetricsFactory, bounded: Bool) {
            func gauge(_ label: String) -> Gauge {
                Gauge(label: label, dimensions: dimensions, factory: factory)
            }
            threads = gauge("spindle_threads")
            busyThreads = gauge("spindle_busy_threads")
            queuedForegroundJobs = gauge("spindle_queued_foreground_jobs")
            queuedBackgroundJobs = gauge("spindle_queued_background_jobs")
            pendingTasks = gauge("spindle_pending_tasks")
            utilization = gauge("spindle_utilization")
            queuePressure = bounded ? gauge("spindle_queue_pressure") : nil
            successRate = gauge("spindle_success_rate")
        }

        func record(_ metrics: ThreadPool.Metrics, utilization share: Double) {
            threads.record(metrics.threadCount)
            busyThreads.record(metrics.busyThreads)
            queuedForegroundJobs.record(metrics.queuedForegroundJobs)
            queuedBackgroundJobs.record(metrics.queuedBackgroundJobs)
            pendingTasks.record(metrics.pendingTasks)
            utilization.record(share)
            if let queuePressure, let pressure = metrics.queuePressure {
                queuePressure.record(pressure)
            }
            successRate.record(metrics.successRate)
        }
    }

    /// The counters, one per monotonic total in `ThreadPool.Metrics`.
    private struct Counters: Sendable {
        let completedTasks: Counter
        let failedTasks: Counter
        let cancelledTasks: Counter
        let executorJobs: Counter
        let steals: Counter
        let heartbeatPromotions: Counter

        init(dimensions: [(String, String)], factory: any MetricsFactory) {
            func counter(_ label: String) -> Counter {
                Counter(label: label, dimensions: dimensions, factory: factory)
            }
            completedTasks = counter("spindle_completed_tasks")
            failedTasks = counter("spindle_failed_tasks")
            cancelledTasks = counter("spindle_cancelled_tasks")
            executorJobs = counter("spindle_executor_jobs")
            steals = counter("spindle_steals")
            heartbeatPromotions = counter("spindle_heartbeat_promotions")
        }

        /// Adds what each total grew by since `old` (everything, without an `old`).
        func increment(from old: ThreadPool.Metrics?, to new: ThreadPool.Metrics) {
            add(completedTasks, new.completedTasks, old?.completedTasks)
            add(failedTasks, new.failedTasks, old?.failedTasks)
            add(cancelledTasks, new.cancelledTasks, old?.cancelledTasks)
            add(executorJobs, new.executorJobs, old?.executorJobs)
            add(steals, new.steals, old?.steals)
            add(heartbeatPromotions, new.heartbeatPromotions, old?.heartbeatPromotions)
        }

        private func add(_ counter: Counter, _ new: Int, _ old: Int?) {
            // The pool's totals only grow; a smaller reading (not expected) must not be sent as a
            // negative increment, which counter backends reject or misread. Zero deltas are skipped:
            // they change nothing and only add traffic.
            let delta = new &- (old ?? 0)
            if delta > 0 {
                counter.increment(by: delta)
            }
        }
    }
#endif
