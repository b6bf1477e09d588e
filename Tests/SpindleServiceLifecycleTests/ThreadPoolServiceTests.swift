#if ServiceLifecycle  // the package trait that brings in the dependency (Package.swift)
    import ServiceLifecycle
    import ServiceLifecycleTestKit
    import Spindle
    import SpindleServiceLifecycle
    import Synchronization
    import Testing

    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Darwin)
        import Darwin
    #endif

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

    /// Holds pool workers in task bodies until opened.
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

    /// Set once the service's `run()` has returned.
    private final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .sequentiallyConsistent) }
        var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    }

    @Suite("SpindleServiceLifecycle: ThreadPoolService")
    struct ThreadPoolServiceTests {
        @Test("keeps the default grace period and the given pool")
        func initialiser() throws {
            let pool = try ThreadPool(threads: 1)
            defer { pool.shutdown() }
            let service = ThreadPoolService(pool: pool)
            #expect(service.pool === pool)
            #expect(service.gracePeriod == .seconds(30))
            #expect(ThreadPoolService(pool: pool, gracePeriod: .zero).gracePeriod == .zero)
        }

        @Test("graceful shutdown closes the pool, lets queued work finish, then returns", .timeLimit(.minutes(1)))
        func gracefulShutdownDrains() async throws {
            let pool = try ThreadPool(threads: 2)
            // Long enough that nothing is cancelled at the deadline: the gate opens long before.
            let service = ThreadPoolService(pool: pool, gracePeriod: .seconds(600))
            let gate = Gate()
            let returned = Flag()

            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await service.run()
                        returned.set()
                    }
                    // More tasks than workers: the workers hold two at the gate, the rest wait queued.
                    let handles = try (0..<10).map { i in
                        try pool.submit { () -> Int in
                            gate.pass()
                            return i * i
                        }
                    }
                    #expect(await eventually { gate.waiting == 2 })
                    #expect(!pool.isShutDown)
                    #expect(!returned.isSet)

                    trigger.triggerGracefulShutdown()
                    #expect(await eventually { pool.isShutDown })
                    #expect(throws: ThreadPoolError.shutDown) { try pool.submit { 0 } }
                    // Still draining: the queued tasks cannot finish while the gate holds the workers.
                    #expect(!returned.isSet)
                    #expect(handles.filter(\.isComplete).isEmpty)

                    gate.open()
                    try await group.waitForAll()
                    #expect(returned.isSet)
                    for (i, handle) in handles.enumerated() {
                        #expect(handle.isComplete)
                        #expect(try await handle.value == i * i)
                    }
                }
            }
            let metrics = pool.metrics
            #expect(metrics.completedTasks == 10)
            #expect(metrics.cancelledTasks == 0)
        }

        @Test("an idle pool is shut down as soon as graceful shutdown is triggered", .timeLimit(.minutes(1)))
        func idlePool() async throws {
            let pool = try ThreadPool(threads: 2)
            try await runService(ThreadPoolService(pool: pool)) { trigger in
                let answer = try await pool.run { 6 * 7 }
                #expect(answer == 42)
                trigger.triggerGracefulShutdown()
            }
            #expect(pool.isShutDown)
            #expect(pool.metrics.completedTasks == 1)
        }

        @Test("cancellation shuts the pool down at once: queued tasks are cancelled", .timeLimit(.minutes(1)))
        func cancellation() async throws {
            // One worker, held at the gate, so that the later tasks are certainly still queued.
            let pool = try ThreadPool(threads: 1)
            let service = ThreadPoolService(pool: pool, gracePeriod: .seconds(600))
            let gate = Gate()

            let running = try pool.submit { () -> Int in
                gate.pass()
                return 1
            }
            #expect(await eventually { gate.waiting == 1 })
            let queued = try (0..<3).map { i in try pool.submit { i } }

            // No graceful-shutdown context at all: only cancellation can end this run.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                group.cancelAll()
                await group.waitForAll()
            }
            #expect(pool.isShutDown)
            for handle in queued {
                await #expect(throws: CancellationError.self) { try await handle.value }
            }
            // Running work is never interrupted: it finishes once released.
            #expect(!running.isComplete)
            gate.open()
            #expect(try await running.value == 1)
            #expect(pool.metrics.cancelledTasks == 3)
        }

        @Test("cancellation after graceful shutdown still waits for the drain", .timeLimit(.minutes(1)))
        func cancellationDuringDrain() async throws {
            let pool = try ThreadPool(threads: 1)
            let service = ThreadPoolService(pool: pool, gracePeriod: .seconds(600))
            let gate = Gate()
            let returned = Flag()

            let running = try pool.submit { () -> Int in
                gate.pass()
                return 1
            }
            #expect(await eventually { gate.waiting == 1 })
            let queued = try pool.submit { 2 }

            await testGracefulShutdown { trigger in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await service.run()
                        returned.set()
                    }
                    trigger.triggerGracefulShutdown()
                    #expect(await eventually { pool.isShutDown })
                    group.cancelAll()
                    // The drain is bounded by the grace period already; cancelling does not drop work.
                    #expect(!returned.isSet)
                    gate.open()
                    await group.waitForAll()
                }
            }
            #expect(returned.isSet)
            #expect(try await running.value == 1)
            #expect(try await queued.value == 2)
            #expect(pool.metrics.cancelledTasks == 0)
        }
    }

    /// Runs `service` in a task group under a test graceful-shutdown context, calls `body` with the
    /// trigger, and returns once the service has.
    private func runService(
        _ service: ThreadPoolService,
        _ body: @Sendable (GracefulShutdownTestTrigger) async throws -> Void
    ) async throws {
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                try await body(trigger)
                try await group.waitForAll()
            }
        }
    }
#endif
