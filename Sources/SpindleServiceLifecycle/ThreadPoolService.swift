#if ServiceLifecycle  // the package trait that brings in the dependency (Package.swift)
    import ServiceLifecycle
    import Spindle

    /// Ties a `ThreadPool`'s lifetime to a swift-service-lifecycle `ServiceGroup`: the pool runs
    /// until the group shuts down gracefully (SIGTERM, say), then drains its queued work for up to
    /// `gracePeriod` before the service returns.
    ///
    /// ```swift
    /// import Logging
    /// import ServiceLifecycle
    /// import Spindle
    /// import SpindleServiceLifecycle
    ///
    /// let pool = try ThreadPool(configuration: .cpuBound)
    /// let group = ServiceGroup(
    ///     services: [ThreadPoolService(pool: pool, gracePeriod: .seconds(20)), httpServer],
    ///     gracefulShutdownSignals: [.sigterm],
    ///     logger: Logger(label: "app")
    /// )
    /// try await group.run()   // on SIGTERM: the pool stops admitting work and drains
    /// ```
    ///
    /// List the pool's service after the services that submit work to it: a `ServiceGroup` shuts
    /// its services down in reverse order, so the submitters stop before the pool closes.
    public struct ThreadPoolService: Service {
        /// The pool this service shuts down.
        ///
        /// ```swift
        /// let service = ThreadPoolService(pool: pool)
        /// try service.pool.spawn { warmCaches() }
        /// ```
        public let pool: ThreadPool

        /// How long running and queued work may take to finish once shutdown begins; background
        /// tasks still not started after it are cancelled (their handles throw `CancellationError`).
        ///
        /// ```swift
        /// ThreadPoolService(pool: pool, gracePeriod: .seconds(5)).gracePeriod   // 5 seconds
        /// ```
        public let gracePeriod: Duration

        /// A service that shuts `pool` down, with `gracePeriod` to drain, when the group does.
        ///
        /// ```swift
        /// let service = ThreadPoolService(pool: pool)                              // 30 s to drain
        /// let quick = ThreadPoolService(pool: pool, gracePeriod: .milliseconds(500))
        /// ```
        /// Keep `gracePeriod` below the group's `maximumGracefulShutdownDuration`, if it has one,
        /// so that the pool gets to cancel its leftovers itself.
        /// - Precondition: `gracePeriod` is not negative; `pool` is not `ThreadPool.shared`, which is
        ///   perpetual (its shutdown stops the program).
        public init(pool: ThreadPool, gracePeriod: Duration = .seconds(30)) {
            // Checked here rather than at shutdown, where the failure would be far from its cause.
            precondition(gracePeriod >= .zero, "ThreadPoolService needs a non-negative grace period, got \(gracePeriod)")
            self.pool = pool
            self.gracePeriod = gracePeriod
        }

        /// Waits for graceful shutdown, then shuts the pool down with `gracePeriod` and returns once
        /// that has finished.
        ///
        /// ```swift
        /// await withDiscardingTaskGroup { group in
        ///     group.addTask { await ThreadPoolService(pool: pool).run() }
        ///     // … the group is cancelled, or a ServiceGroup triggers graceful shutdown …
        /// }
        /// // here the pool is shut down
        /// ```
        /// If the task is cancelled first, the pool is shut down at once instead: admission stops,
        /// background tasks not yet started are cancelled, and running work goes on, unobserved,
        /// until it ends (cancellation asks for a prompt stop). Once the drain has begun, a
        /// cancellation does not cut it short: it is bounded by `gracePeriod` already. Never throws.
        public func run() async {
            // Throws only when the task was cancelled before graceful shutdown was triggered.
            let cancelled = (try? await gracefulShutdown()) == nil
            let pool = self.pool
            let grace = cancelled ? Duration.zero : gracePeriod
            // Unstructured on purpose: `shutdown(gracePeriod:)` waits in `Task.sleep`, which returns
            // at once in a cancelled task and would turn the wait into a busy loop.
            let drain = Task { _ = await pool.shutdown(gracePeriod: grace) }
            await drain.value
        }
    }
#endif
