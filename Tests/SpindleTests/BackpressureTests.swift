import Synchronization
import Testing
@testable import Spindle

@Suite("backpressure: async admission at maxPending")
struct BackpressureTests {
    @Test("spawnAwaitingCapacity suspends at maxPending and goes on once a place frees up; every job runs once")
    func suspendsUntilRoom() async throws {
        let blocked = try BlockedPool(maxPending: 2)
        let ran = OnceTracker(count: 3)
        try blocked.pool.spawn { ran.mark(0) }
        try blocked.pool.spawn { ran.mark(1) }
        let admitted = Flag()
        let submitter = Task(executorPreference: asyncDriver) {
            try await blocked.pool.spawnAwaitingCapacity { ran.mark(2) }
            admitted.set()
        }
        // The submitter suspends as a capacity waiter while both places are taken, and is not
        // admitted while it waits (nothing gives a place back until `unblock`).
        while blocked.pool.registry.pendingPlaces.waiters.waitingCount < 1 { await Task.yield() }
        #expect(!admitted.isSet)
        #expect(blocked.pool.registry.pendingPlaces.count == 2)
        #expect(throws: ThreadPoolError.saturated(maxPending: 2)) { try blocked.pool.spawn {} }
        blocked.unblock()
        try await submitter.value
        #expect(admitted.isSet)
        await blocked.pool.shutdown()
        #expect(ran.total == 3 && ran.duplicates == 0 && ran.missing == 0)
    }

    @Test("submitAwaitingCapacity returns a working handle")
    func submitHandle() async throws {
        let blocked = try BlockedPool(maxPending: 1)
        let first = try blocked.pool.submit { 1 }
        async let second = blocked.pool.submitAwaitingCapacity { 2 }
        blocked.unblock()
        #expect(try await first.value == 1)
        #expect(try await second.value == 2)
    }

    @Test("cancelling a waiting submitter throws CancellationError and its work never runs")
    func cancelWhileWaiting() async throws {
        let blocked = try BlockedPool(maxPending: 1)
        try blocked.pool.spawn {}
        let ran = Flag()
        let submitter = Task(executorPreference: asyncDriver) { try await blocked.pool.spawnAwaitingCapacity { ran.set() } }
        #expect(await eventually { blocked.pool.registry.pendingPlaces.waiters.isEmpty == false })
        submitter.cancel()
        await #expect(throws: CancellationError.self) { try await submitter.value }
        blocked.unblock()
        await blocked.pool.shutdown()
        #expect(!ran.isSet)
        // Its place was never taken: the pool is back to zero pending work.
        #expect(blocked.pool.registry.pendingPlaces.count == 0)
    }

    @Test("an already cancelled task is refused before it waits")
    func alreadyCancelled() async throws {
        let blocked = try BlockedPool(maxPending: 1)
        try blocked.pool.spawn {}
        let ran = Flag()
        let submitter = Task(executorPreference: asyncDriver) {
            withUnsafeCurrentTask { $0?.cancel() }
            try await blocked.pool.spawnAwaitingCapacity { ran.set() }
        }
        await #expect(throws: CancellationError.self) { try await submitter.value }
        blocked.unblock()
        await blocked.pool.shutdown()
        #expect(!ran.isSet)
    }

    @Test("shutdown ends waiting submitters with .shutDown")
    func shutdownWhileWaiting() async throws {
        let blocked = try BlockedPool(maxPending: 1)
        try blocked.pool.spawn {}
        let submitter = Task(executorPreference: asyncDriver) { try await blocked.pool.spawnAwaitingCapacity {} }
        #expect(await eventually { blocked.pool.registry.pendingPlaces.waiters.isEmpty == false })
        let pool = blocked.pool
        let release = blocked.release
        let closer = TestThread.start { pool.shutdown() }
        #expect(await eventually { pool.isShutDown })
        await #expect(throws: ThreadPoolError.shutDown) { try await submitter.value }
        release.signal()
        closer.join()
        await #expect(throws: ThreadPoolError.shutDown) { try await pool.spawnAwaitingCapacity {} }
    }

    @Test("many async submitters against a small bound: nothing lost, nothing run twice")
    func manySubmitters() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 3))
        let perSubmitter = 300
        let submitters = 8
        let ran = OnceTracker(count: perSubmitter * submitters)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in 0..<submitters {
                group.addTask {
                    for i in 0..<perSubmitter {
                        let id = s * perSubmitter + i
                        if i % 2 == 0 {
                            try await pool.spawnAwaitingCapacity { ran.mark(id) }
                        } else {
                            _ = try await pool.submitAwaitingCapacity { ran.mark(id) }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        await pool.shutdown()
        #expect(ran.total == perSubmitter * submitters)
        #expect(ran.duplicates == 0 && ran.missing == 0)
        #expect(pool.registry.pendingPlaces.count == 0)
    }

    @Test("without maxPending, the async variants admit at once")
    func unbounded() async throws {
        let pool = try ThreadPool(threads: 1)
        let handle = try await pool.submitAwaitingCapacity { 42 }
        #expect(try await handle.value == 42)
        try await pool.spawnAwaitingCapacity {}
        await pool.shutdown()
    }
}
