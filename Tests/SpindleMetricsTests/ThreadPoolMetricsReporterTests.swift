#if Metrics  // the package trait that brings in the dependency (Package.swift)
    import CoreMetrics
    import MetricsTestKit
    import Spindle
    import SpindleMetrics
    import Synchronization
    import Testing

    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Darwin)
        import Darwin
    #endif

    private struct Boom: Error {}

    private let gaugeLabels = [
        "spindle_threads", "spindle_busy_threads", "spindle_queued_foreground_jobs",
        "spindle_queued_background_jobs", "spindle_pending_tasks", "spindle_utilization",
        "spindle_success_rate",
    ]
    private let counterLabels = [
        "spindle_completed_tasks", "spindle_failed_tasks", "spindle_cancelled_tasks",
        "spindle_executor_jobs", "spindle_steals", "spindle_heartbeat_promotions",
    ]

    /// Dimensions as comparable strings (tuples are not `Equatable`).
    private func flat(_ dimensions: [(String, String)]) -> [String] {
        dimensions.map { "\($0.0)=\($0.1)" }
    }

    /// Submits `succeeding` tasks that return and `failing` tasks that throw, and waits for all.
    private func runTasks(on pool: ThreadPool, succeeding: Int, failing: Int) async throws {
        let ok = try (0..<succeeding).map { i in try pool.submit { i } }
        let bad = try (0..<failing).map { _ in try pool.submit { () throws -> Int in throw Boom() } }
        for handle in ok { _ = try await handle.value }
        for handle in bad { await #expect(throws: Boom.self) { try await handle.value } }
    }

    /// Waits, suspended, until `condition` holds; false after a minute (a liveness guard, not a
    /// speed assertion).
    private func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while !condition() {
            if ContinuousClock.now > deadline { return condition() }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    /// Holds pool workers in a task body until opened.
    private final class Gate: Sendable {
        private let isOpen = Atomic<Bool>(false)
        private let entered = Atomic<Int>(0)

        /// Called from a task body: blocks its worker until `open()`.
        func pass() {
            entered.add(1, ordering: .sequentiallyConsistent)
            while !isOpen.load(ordering: .sequentiallyConsistent) { usleep(200) }
        }

        func open() { isOpen.store(true, ordering: .sequentiallyConsistent) }

        var waiting: Int { entered.load(ordering: .sequentiallyConsistent) }
    }

    @Suite("SpindleMetrics: ThreadPoolMetricsReporter")
    struct ThreadPoolMetricsReporterTests {
        @Test("levels become gauges and totals counters, all with the pool dimension")
        func firstReport() async throws {
            let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 100))
            let metrics = TestMetrics()
            let reporter = ThreadPoolMetricsReporter(pool: pool, name: "render", factory: metrics)
            #expect(reporter.name == "render")
            #expect(reporter.pool === pool)

            try await runTasks(on: pool, succeeding: 5, failing: 3)
            reporter.report()

            let render = [("pool", "render")]
            #expect(try metrics.expectGauge("spindle_threads", render).values == [2])
            #expect(try metrics.expectGauge("spindle_pending_tasks", render).values == [0])
            #expect(try metrics.expectGauge("spindle_queue_pressure", render).values == [0])
            #expect(try metrics.expectGauge("spindle_success_rate", render).values == [5.0 / 8.0])
            let busy = try #require(try metrics.expectGauge("spindle_busy_threads", render).lastValue)
            #expect((0...2).contains(busy))
            let utilization = try #require(try metrics.expectGauge("spindle_utilization", render).lastValue)
            #expect((0...1).contains(utilization))
            #expect(try metrics.expectGauge("spindle_queued_foreground_jobs", render).values.count == 1)
            #expect(try metrics.expectGauge("spindle_queued_background_jobs", render).values.count == 1)

            // The first report brings each counter up to the pool's total since it started.
            #expect(try metrics.expectCounter("spindle_completed_tasks", render).totalValue == 5)
            #expect(try metrics.expectCounter("spindle_failed_tasks", render).totalValue == 3)
            #expect(try metrics.expectCounter("spindle_cancelled_tasks", render).totalValue == 0)
            // No Swift task preferred the pool and nothing joined: nothing to count.
            #expect(try metrics.expectCounter("spindle_executor_jobs", render).totalValue == 0)

            // Every series carries exactly the pool dimension, and there is one series per label.
            for label in gaugeLabels + ["spindle_queue_pressure"] {
                let series = metrics.recorders(label: label)
                #expect(series.count == 1, "\(label)")
                #expect(series.allSatisfy { flat($0.dimensions) == ["pool=render"] && !$0.aggregate }, "\(label)")
            }
            for label in counterLabels {
                let series = metrics.counters(label: label)
                #expect(series.count == 1, "\(label)")
                #expect(series.allSatisfy { flat($0.dimensions) == ["pool=render"] }, "\(label)")
            }
            await pool.shutdown()
        }

        @Test("a later report moves counters by what changed since the previous one")
        func deltas() async throws {
            // One worker, so that a task held at a gate keeps a later one from starting.
            let pool = try ThreadPool(threads: 1)
            let metrics = TestMetrics()
            let reporter = ThreadPoolMetricsReporter(pool: pool, name: "io", factory: metrics)
            let io = [("pool", "io")]

            try await runTasks(on: pool, succeeding: 2, failing: 1)
            reporter.report()

            let gate = Gate()
            let held = try pool.submit { gate.pass() }
            #expect(await eventually { gate.waiting == 1 })
            let doomed = try pool.submit { 0 }
            #expect(doomed.cancel())  // the only worker is held: it cannot have started
            gate.open()
            try await held.value
            try await runTasks(on: pool, succeeding: 3, failing: 2)
            reporter.report()

            #expect(try metrics.expectCounter("spindle_completed_tasks", io).values == [2, 4])
            #expect(try metrics.expectCounter("spindle_failed_tasks", io).values == [1, 2])
            // Zero deltas are not sent: the first report had nothing to add.
            #expect(try metrics.expectCounter("spindle_cancelled_tasks", io).values == [1])
            #expect(try metrics.expectGauge("spindle_threads", io).values == [1, 1])
            #expect(try metrics.expectGauge("spindle_success_rate", io).lastValue == 6.0 / 10.0)
            #expect(try metrics.expectGauge("spindle_pending_tasks", io).values == [0, 0])

            // Counters track the pool's totals exactly; the totals that depend on scheduling only
            // have to agree with a snapshot taken after the report.
            let after = pool.metrics
            #expect(try metrics.expectCounter("spindle_completed_tasks", io).totalValue == Int64(after.completedTasks))
            #expect(try metrics.expectCounter("spindle_failed_tasks", io).totalValue == Int64(after.failedTasks))
            #expect(try metrics.expectCounter("spindle_cancelled_tasks", io).totalValue == Int64(after.cancelledTasks))
            #expect(try metrics.expectCounter("spindle_steals", io).totalValue <= Int64(after.steals))
            #expect(try metrics.expectCounter("spindle_heartbeat_promotions", io).totalValue <= Int64(after.heartbeatPromotions))
            for value in try metrics.expectGauge("spindle_utilization", io).values {
                #expect((0...1).contains(value))
            }
            await pool.shutdown()
        }

        @Test("a pool without maxPending has no queue-pressure gauge")
        func unbounded() throws {
            let pool = try ThreadPool(threads: 1)
            defer { pool.shutdown() }
            let metrics = TestMetrics()
            ThreadPoolMetricsReporter(pool: pool, name: "free", factory: metrics).report()
            #expect(metrics.recorders(label: "spindle_queue_pressure").isEmpty)
            #expect(try metrics.expectGauge("spindle_threads", [("pool", "free")]).values == [1])
        }

        @Test("two pools report separate series")
        func twoPools() async throws {
            let a = try ThreadPool(threads: 1)
            let b = try ThreadPool(threads: 2)
            let metrics = TestMetrics()
            let reporters = [
                ThreadPoolMetricsReporter(pool: a, name: "a", factory: metrics),
                ThreadPoolMetricsReporter(pool: b, name: "b", factory: metrics),
            ]
            try await runTasks(on: a, succeeding: 1, failing: 0)
            try await runTasks(on: b, succeeding: 3, failing: 0)
            for reporter in reporters { reporter.report() }

            #expect(try metrics.expectGauge("spindle_threads", [("pool", "a")]).values == [1])
            #expect(try metrics.expectGauge("spindle_threads", [("pool", "b")]).values == [2])
            #expect(try metrics.expectCounter("spindle_completed_tasks", [("pool", "a")]).totalValue == 1)
            #expect(try metrics.expectCounter("spindle_completed_tasks", [("pool", "b")]).totalValue == 3)
            await a.shutdown()
            await b.shutdown()
        }

        @Test("without a factory, the reporter uses MetricsSystem.factory")
        func defaultFactory() throws {
            let pool = try ThreadPool(threads: 1)
            defer { pool.shutdown() }
            let metrics = TestMetrics()
            // A task-local factory stands in for a bootstrapped one, which a test may not set twice.
            let reporter = withMetricsFactory(metrics) { ThreadPoolMetricsReporter(pool: pool, name: "default") }
            reporter.report()
            #expect(try metrics.expectGauge("spindle_threads", [("pool", "default")]).values == [1])
        }

        @Test("run(every:) reports repeatedly and returns when its task is cancelled", .timeLimit(.minutes(1)))
        func periodic() async throws {
            let pool = try ThreadPool(threads: 1)
            let metrics = TestMetrics()
            let reporter = ThreadPoolMetricsReporter(pool: pool, name: "tick", factory: metrics)
            let tick = [("pool", "tick")]

            let reporting = Task { await reporter.run(every: .milliseconds(2)) }
            #expect(await eventually { ((try? metrics.expectGauge("spindle_threads", tick))?.values.count ?? 0) >= 2 })
            try await runTasks(on: pool, succeeding: 4, failing: 1)
            let reportsBefore = try metrics.expectGauge("spindle_threads", tick).values.count
            // Two more reports: the second one's snapshot follows the first one's end, which follows
            // the count above, so it saw every task finished.
            #expect(await eventually { ((try? metrics.expectGauge("spindle_threads", tick))?.values.count ?? 0) >= reportsBefore + 2 })
            reporting.cancel()
            await reporting.value  // returns: a hang here is the failure (bounded by the time limit)

            // However the deltas were split between reports, they add up to the pool's totals.
            #expect(try metrics.expectCounter("spindle_completed_tasks", tick).totalValue == 4)
            #expect(try metrics.expectCounter("spindle_failed_tasks", tick).totalValue == 1)
            await pool.shutdown()
        }
    }
#endif
