import Synchronization
import Testing
@testable import Spindle

/// An async gate: `wait()` suspends until `open()` (never blocks a thread).
final class AsyncGate: Sendable {
    private let state = Locked<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiting.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    var waitingCount: Int { state.withLock { $0.waiting.count } }

    func open() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}

struct Boom: Error, Equatable { let id: Int }

/// Spawns `count` scope tasks that each count their start, sleep until they are cancelled, and
/// count that.
func spawnSleepers(_ count: Int, in scope: TaskScope, started: Counter, sawCancellation: Counter) async throws {
    for _ in 0..<count {
        try await scope.spawn {
            _ = started.add()
            do { try await Task.sleep(for: .seconds(600)) } catch { _ = sawCancellation.add() }
        }
    }
}

@Suite("async tasks under maxPending")
struct AsyncTaskTests {
    @Test("submit of an async closure runs it on the pool and its handle delivers the value")
    func submitAsync() async throws {
        let pool = try ThreadPool(threads: 2)
        let onPool = Flag()
        let handle = try pool.submit { () async -> Int in
            await Task.yield()
            if pool.currentThreadIndex != nil { onPool.set() }
            return 41 + 1
        }
        #expect(try await handle.value == 42)
        #expect(handle.isComplete)
        #expect(onPool.isSet)
        await pool.shutdown()
    }

    @Test("a closure without await still picks the synchronous submit: wait() runs it inline")
    func syncOverloadChosen() throws {
        let blocked = try BlockedPool()
        #expect(try blocked.pool.submit { 5 }.wait() == 5)  // the only worker is blocked: it ran here
        blocked.unblock()
        blocked.pool.shutdown()
    }

    @Test("an async task holds its maxPending place until it ends, not only until it starts")
    func placeHeldUntilEnd() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 2))
        let gate = AsyncGate()
        let first = try pool.submit {
            await gate.wait(); return 1
        }
        let second = try pool.submit {
            await gate.wait(); return 2
        }
        // Both bodies started and suspended: the places are still taken.
        #expect(await eventually { gate.waitingCount == 2 })
        #expect(pool.registry.pendingPlaces.count == 2)
        #expect(pool.metrics.pendingTasks == 2)
        #expect(throws: ThreadPoolError.saturated(maxPending: 2)) { try pool.submit { () async in 3 } }
        #expect(throws: ThreadPoolError.saturated(maxPending: 2)) { try pool.spawn { () async in } }
        gate.open()
        #expect(try await [first, second].values() == [1, 2])
        #expect(await eventually { pool.registry.pendingPlaces.count == 0 })
        #expect(try await pool.submit { () async in 3 }.value == 3)
        await pool.shutdown()
    }

    @Test("a spawned async task holds its place until it ends; past its timeout it is cancelled and counted")
    func spawnedAsync() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 1))
        let gate = AsyncGate()
        let ended = Flag()
        try pool.spawn {
            await gate.wait()
            ended.set()
        }
        #expect(await eventually { gate.waitingCount == 1 })
        #expect(throws: ThreadPoolError.saturated(maxPending: 1)) { try pool.spawn { () async in } }
        gate.open()
        #expect(await eventually { ended.isSet && pool.registry.pendingPlaces.count == 0 })
        let sawCancellation = Flag()
        try pool.spawn(timeout: .after(.milliseconds(5))) {
            do { try await Task.sleep(for: .seconds(600)) } catch { sawCancellation.set() }
        }
        #expect(await eventually { sawCancellation.isSet && pool.metrics.timedOutTasks == 1 })
        #expect(await eventually { pool.registry.pendingPlaces.count == 0 })
        #expect(pool.metrics.failedTasks == 1)
        await pool.shutdown()
    }

    @Test("one async task ending frees its place for a waiting submitter, even while every other place stays taken")
    func oneFreedPlaceWakesAWaiter() async throws {
        let bound = 32
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: bound))
        let holders = (0..<bound).map { _ in AsyncGate() }
        for gate in holders { try pool.spawn { await gate.wait() } }
        #expect(await eventually { holders.allSatisfy { $0.waitingCount == 1 } })
        let admitted = Flag()
        let submitter = Task(executorPreference: asyncDriver) {
            try await pool.spawnAwaitingCapacity { () async in admitted.set() }
        }
        #expect(await eventually { pool.registry.pendingPlaces.waiters.waitingCount == 1 })
        holders[0].open()  // one place comes back; the other 31 stay taken
        #expect(await eventually { admitted.isSet })  // fails (does not hang) if nobody wakes the waiter
        for gate in holders { gate.open() }
        try await submitter.value
        await pool.shutdown()
    }

    @Test("submitAwaitingCapacity with an async closure waits for a place, then runs it once")
    func awaitingCapacity() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 1, maxPending: 1))
        let gate = AsyncGate()
        let ran = OnceTracker(count: 2)
        try pool.spawn {
            ran.mark(0)
            await gate.wait()
        }
        #expect(await eventually { gate.waitingCount == 1 })
        let admitted = Flag()
        let submitter = Task(executorPreference: asyncDriver) {
            let handle = try await pool.submitAwaitingCapacity { () async in ran.mark(1) }
            admitted.set()
            try await handle.value
        }
        #expect(await eventually { pool.registry.pendingPlaces.waiters.waitingCount == 1 })
        #expect(!admitted.isSet)
        gate.open()
        try await submitter.value
        #expect(admitted.isSet)
        try await pool.spawnAwaitingCapacity { () async in }
        await pool.shutdown()
        #expect(ran.total == 2 && ran.duplicates == 0 && ran.missing == 0)
    }

    @Test("cancel() before an async task starts: it never runs, its value throws CancellationError, its place is free")
    func cancelBeforeStart() async throws {
        let blocked = try BlockedPool(maxPending: 4)
        let ran = Flag()
        let handle = try blocked.pool.submit { () async in ran.set() }
        #expect(handle.cancel())
        #expect(handle.isCancelled)
        await #expect(throws: CancellationError.self) { try await handle.value }
        #expect(blocked.pool.registry.pendingPlaces.count == 0)
        blocked.unblock()
        await blocked.pool.shutdown()
        #expect(!ran.isSet)
        #expect(blocked.pool.metrics.cancelledTasks == 1)
    }

    @Test("cancel() of a running async task cancels its Swift task; the handle reports what the body threw")
    func cancelWhileRunning() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Flag()
        let sawCancellation = Flag()
        let handle = try pool.submit { () async throws -> Int in
            started.set()
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                sawCancellation.set()
                throw error
            }
            return 1
        }
        #expect(await eventually { started.isSet })
        #expect(!handle.cancel())  // it had started: not stopped before it ran
        await #expect(throws: CancellationError.self) { try await handle.value }
        #expect(sawCancellation.isSet)
        #expect(pool.registry.pendingPlaces.count == 0)
        await pool.shutdown()
    }

    @Test("cancelling one awaiter of a running async task cancels neither the task nor the other awaiter")
    func awaiterCancellation() async throws {
        let pool = try ThreadPool(threads: 2)
        let gate = AsyncGate()
        let handle = try pool.submit { () async -> Int in
            await gate.wait()
            return 7
        }
        #expect(await eventually { gate.waitingCount == 1 })
        let cancelled = Task(executorPreference: asyncDriver) { try await handle.value }
        let other = Task(executorPreference: asyncDriver) { try await handle.value }
        #expect(await eventually { handle.task.awaiterCount == 2 })
        cancelled.cancel()
        gate.open()
        #expect(try await other.value == 7)
        #expect(try await cancelled.value == 7)
        #expect(!handle.isCancelled)
        await pool.shutdown()
    }

    @Test("an async task past its timeout is cancelled and reports taskTimedOut; metrics count it")
    func asyncTimeout() async throws {
        var configuration = ThreadPool.Configuration(threads: 2, maxPending: 8)
        configuration.taskTimeout = .milliseconds(20)
        let pool = try ThreadPool(configuration: configuration)
        let sawCancellation = Flag()
        let handle = try pool.submit { () async throws -> Int in
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                sawCancellation.set()
                return -1  // a value after cancellation: the handle still reports the timeout
            }
            return 1
        }
        await #expect(throws: ThreadPoolError.taskTimedOut(after: .milliseconds(20))) { try await handle.value }
        #expect(sawCancellation.isSet)
        // The call's own timeout: `.never` overrides the configured one.
        let slow = try pool.submit(timeout: .never) { () async throws -> Int in
            try await Task.sleep(for: .milliseconds(60))
            return 2
        }
        #expect(try await slow.value == 2)
        let metrics = pool.metrics
        #expect(metrics.timedOutTasks == 1)
        #expect(metrics.failedTasks == 1)
        #expect(metrics.completedTasks == 1)
        #expect(pool.registry.pendingPlaces.count == 0)
        await pool.shutdown()
    }

    @Test("a call's own timeout applies without a configured one; a body that ends first keeps its value")
    func perCallTimeout() async throws {
        let pool = try ThreadPool(threads: 2)
        let timed = try pool.submit(timeout: .after(.milliseconds(10))) { () async throws -> Int in
            try await Task.sleep(for: .seconds(600))
            return 1
        }
        await #expect(throws: ThreadPoolError.taskTimedOut(after: .milliseconds(10))) { try await timed.value }
        let quick = try pool.submit(timeout: .after(.seconds(600))) { () async -> Int in 3 }
        #expect(try await quick.value == 3)
        #expect(pool.metrics.timedOutTasks == 1)
        await pool.shutdown()
    }

    @Test("a synchronous task past its timeout runs to its end, keeps its value, and is counted")
    func syncTimeoutReported() async throws {
        var configuration = ThreadPool.Configuration(threads: 1)
        configuration.taskTimeout = .milliseconds(1)
        let pool = try ThreadPool(configuration: configuration)
        let spinFor: @Sendable () -> Int = {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .milliseconds(20) {}
            return 9
        }
        #expect(try await pool.submit(spinFor).value == 9)
        let spawned = TestSemaphore()
        try pool.spawn {
            _ = spinFor()
            spawned.signal()
        }
        spawned.wait()
        #expect(try await pool.submit(timeout: .never, spinFor).value == 9)
        #expect(await eventually { pool.metrics.timedOutTasks == 2 })
        #expect(pool.metrics.completedTasks >= 2)
        await pool.shutdown()
    }

    @Test("a non-positive task timeout is refused with a clear error")
    func badTimeout() {
        var configuration = ThreadPool.Configuration(threads: 1)
        configuration.taskTimeout = .zero
        #expect(throws: ThreadPoolError.invalidTaskTimeout(.zero)) { try ThreadPool(configuration: configuration) }
        #expect(ThreadPoolError.invalidTaskTimeout(.zero).description.contains("greater than zero"))
    }

    @Test("values() returns in order; results() waits for every task and keeps each outcome")
    func handlesInOrder() async throws {
        let pool = try ThreadPool(threads: 2)
        let handles = try (0..<20).map { i in
            try pool.submit { () async -> Int in
                await Task.yield()
                return i * i
            }
        }
        #expect(try await handles.values() == (0..<20).map { $0 * $0 })
        let mixed = try (0..<5).map { i in
            try pool.submit { () async throws -> Int in
                if i == 2 { throw Boom(id: i) }
                return i
            }
        }
        await #expect(throws: Boom(id: 2)) { try await mixed.values() }
        let outcomes = await mixed.results()
        #expect(outcomes.count == 5)
        for (i, outcome) in outcomes.enumerated() {
            switch outcome {
            case .success(let value): #expect(i != 2 && value == i)
            case .failure(let error): #expect(i == 2 && (error as? Boom) == Boom(id: 2))
            }
        }
        await pool.shutdown()
    }

    @Test("after shutdown, async submissions and scope spawns are refused with .shutDown")
    func afterShutdown() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 1, maxPending: 4))
        await pool.shutdown()
        #expect(throws: ThreadPoolError.shutDown) { try pool.submit { () async in 1 } }
        await #expect(throws: ThreadPoolError.shutDown) { try await pool.spawnAwaitingCapacity { () async in } }
        await #expect(throws: ThreadPoolError.shutDown) {
            try await pool.withTaskScope { scope in try await scope.spawn {} }
        }
    }
}

@Suite("async task scope")
struct TaskScopeTests {
    @Test("the scope returns the body's value after every task it spawned has ended, on the pool")
    func waitsForAll() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 16))
        let ran = OnceTracker(count: 200)
        let onPool = Counter()
        let value = try await pool.withTaskScope { scope in
            for i in 0..<200 {
                try await scope.spawn {
                    await Task.yield()
                    if pool.currentThreadIndex != nil { _ = onPool.add() }
                    ran.mark(i)
                }
            }
            return "done"
        }
        #expect(value == "done")
        #expect(ran.total == 200 && ran.duplicates == 0 && ran.missing == 0)
        #expect(onPool.value == 200)
        #expect(pool.registry.pendingPlaces.count == 0)
        await pool.shutdown()
    }

    @Test("spawn waits while maxPending scope tasks are alive: never more at once")
    func backpressure() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 3))
        let gauge = ConcurrencyGauge()
        let gate = AsyncGate()
        let spawnedAll = Flag()
        let scope = Task(executorPreference: asyncDriver) {
            try await pool.withTaskScope { scope in
                for _ in 0..<12 {
                    try await scope.spawn {
                        gauge.enter()
                        await gate.wait()
                        gauge.leave()
                    }
                }
                spawnedAll.set()
            }
        }
        #expect(await eventually { gate.waitingCount == 3 && pool.registry.pendingPlaces.waiters.waitingCount == 1 })
        #expect(!spawnedAll.isSet)
        gate.open()
        try await scope.value
        #expect(spawnedAll.isSet)
        #expect(gauge.highest <= 3)
        #expect(pool.registry.pendingPlaces.count == 0)
        await pool.shutdown()
    }

    @Test("the first task error cancels the other tasks, stops further spawns, and is rethrown once all ended")
    func firstErrorCancelsRest() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 64))
        let started = Counter()
        let ended = Counter()
        let refusedSpawn = Flag()
        await #expect(throws: Boom(id: 1)) {
            try await pool.withTaskScope { scope in
                for _ in 0..<5 {
                    try await scope.spawn {
                        _ = started.add()
                        defer { _ = ended.add() }
                        try await Task.sleep(for: .seconds(600))
                    }
                }
                while started.value < 5 { await Task.yield() }
                try await scope.spawn { throw Boom(id: 1) }
                while !scope.isCancelled { await Task.yield() }
                do {
                    try await scope.spawn { Issue.record("a spawn after the error ran") }
                } catch is CancellationError {
                    refusedSpawn.set()
                }
            }
        }
        #expect(started.value == 5 && ended.value == 5)
        #expect(refusedSpawn.isSet)
        #expect(pool.registry.pendingPlaces.count == 0)
        await pool.shutdown()
    }

    @Test("an error thrown by the body cancels the tasks and is rethrown after they ended")
    func bodyError() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Counter()
        let sawCancellation = Counter()
        await #expect(throws: Boom(id: 9)) {
            try await pool.withTaskScope { scope in
                try await spawnSleepers(4, in: scope, started: started, sawCancellation: sawCancellation)
                while started.value < 4 { await Task.yield() }
                throw Boom(id: 9)
            }
        }
        #expect(sawCancellation.value == 4)
        await pool.shutdown()
    }

    @Test("cancelling the task that runs the scope cancels its tasks; the scope ends with CancellationError")
    func enclosingCancellation() async throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 8))
        let started = Counter()
        let sawCancellation = Counter()
        let caller = Task(executorPreference: asyncDriver) {
            try await pool.withTaskScope { scope in
                try await spawnSleepers(3, in: scope, started: started, sawCancellation: sawCancellation)
                try await Task.sleep(for: .seconds(600))
            }
        }
        #expect(await eventually { started.value == 3 })
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(sawCancellation.value == 3)
        #expect(pool.registry.pendingPlaces.count == 0)
        await pool.shutdown()
    }

    @Test("a scope task past its timeout fails the scope with taskTimedOut")
    func scopeTimeout() async throws {
        let pool = try ThreadPool(threads: 2)
        await #expect(throws: ThreadPoolError.taskTimedOut(after: .milliseconds(10))) {
            try await pool.withTaskScope { scope in
                try await scope.spawn(timeout: .after(.milliseconds(10))) { try await Task.sleep(for: .seconds(600)) }
            }
        }
        #expect(pool.metrics.timedOutTasks == 1)
        await pool.shutdown()
    }
}
