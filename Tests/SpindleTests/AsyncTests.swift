import Dispatch
import Synchronization
import Testing
@testable import Spindle

/// Waits, suspended (never blocking a cooperative thread), until `condition` holds; false after
/// `seconds` (a liveness guard, not a speed assertion).
func eventually(seconds: Double = 60, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    while !condition() {
        if ContinuousClock.now > deadline { return condition() }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// Tracks how many bodies run at once, and the most ever seen.
final class ConcurrencyGauge: Sendable {
    private let current = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    func enter() {
        let now = current.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
        var seen = peak.load(ordering: .sequentiallyConsistent)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .sequentiallyConsistent)
            if exchanged { break }
            seen = original
        }
    }

    func leave() { current.wrappingSubtract(1, ordering: .sequentiallyConsistent) }

    var highest: Int { peak.load(ordering: .sequentiallyConsistent) }
}

@Suite("async: executor and run")
struct AsyncExecutorTests {
    @Test("a task that prefers the pool runs on its workers")
    func taskPreference() async throws {
        let pool = try ThreadPool(threads: 2)
        let index = await Task(executorPreference: pool) { pool.currentThreadIndex }.value
        #expect(index != nil)
        let inside = await withTaskExecutorPreference(pool) { pool.currentThreadIndex }
        #expect(inside != nil)
        await pool.shutdown()
    }

    @Test("ten thousand child tasks on the pool's executor each run exactly once")
    func childTasksExactlyOnce() async throws {
        let pool = try ThreadPool(threads: 2)
        let n = 10_000
        let ran = OnceTracker(count: n)
        let offPool = Counter()
        await withTaskExecutorPreference(pool) {
            await withDiscardingTaskGroup { group in
                for i in 0..<n {
                    group.addTask {
                        if pool.currentThreadIndex == nil { offPool.add() }
                        ran.mark(i)
                    }
                }
            }
        }
        #expect(ran.total == n && ran.duplicates == 0 && ran.missing == 0)
        #expect(offPool.value == 0)
        #expect(pool.metrics.executorJobs >= n)
        await pool.shutdown()
    }

    @Test("run returns the closure's value and rethrows its error")
    func runValueAndError() async throws {
        let pool = try ThreadPool(threads: 2)
        #expect(try await pool.run { fibJoin(pool, 20) } == fibSequential(20))
        #expect(try await pool.run { pool.currentThreadIndex != nil })
        await #expect(throws: TestError.left) { try await pool.run { () throws -> Int in throw TestError.left } }
        await pool.shutdown()
    }

    @Test("run: cancelled before the work starts, the work never runs")
    func runCancelledBeforeStart() async throws {
        let blocked = try BlockedPool()
        let ran = Flag()
        let caller = Task(executorPreference: asyncDriver) { try await blocked.pool.run { ran.set() } }
        #expect(await eventually { blocked.pool.metrics.pendingTasks == 1 })
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        blocked.unblock()
        await blocked.pool.shutdown()
        #expect(!ran.isSet)
    }

    @Test("run: cancellation racing with the start either runs the work once or not at all")
    func runCancellationRace() async throws {
        let pool = try ThreadPool(threads: 2)
        let runs = Counter()
        var values = 0
        for _ in 0..<300 {
            let caller = Task(executorPreference: asyncDriver) {
                try await pool.run {
                    runs.add(); return 1
                }
            }
            caller.cancel()
            if let value = try? await caller.value { values += value }
        }
        await pool.shutdown()  // everything started has finished
        #expect(runs.value == values)
    }

    @Test("run waits for a place at maxPending instead of failing")
    func runAtMaxPending() async throws {
        let blocked = try BlockedPool(maxPending: 1)
        try blocked.pool.spawn {}
        async let value = blocked.pool.run { 7 }
        #expect(throws: ThreadPoolError.saturated(maxPending: 1)) { try blocked.pool.spawn {} }
        blocked.unblock()
        #expect(try await value == 7)
        await blocked.pool.shutdown()
    }

    @Test("run from an actor hands its work over on that actor: no hop to the global executor and back")
    func runStaysOnTheCallersActor() async throws {
        let pool = try ThreadPool(threads: 1)
        let caller = QueueActor()
        // Before the fix, the hand-over ran on a thread of the global executor: from the main
        // actor that was two thread wake-ups per call (README "Sleeping workers and loops").
        let onActor = try await caller.runRecordingHandOvers(on: pool, calls: 20)
        #expect(onActor == Array(repeating: true, count: 20))
        await pool.shutdown()
    }

    @Test("run after shutdown throws .shutDown")
    func runAfterShutdown() async throws {
        let pool = try ThreadPool(threads: 1)
        await pool.shutdown()
        await #expect(throws: ThreadPoolError.shutDown) { try await pool.run { 1 } }
    }
}

@Suite("async: bounded concurrency")
struct BoundedConcurrencyTests {
    @Test(
        "forEach over a sequence: every element once, never more than maxConcurrent in flight",
        arguments: [1, 3, 16])
    func forEachBounded(maxConcurrent: Int) async throws {
        let pool = try ThreadPool(threads: 2)
        let gauge = ConcurrencyGauge()
        let seen = OnceTracker(count: 200)
        try await pool.forEach(0..<200, maxConcurrent: maxConcurrent) { i in
            gauge.enter()
            defer { gauge.leave() }
            try await Task.sleep(for: .microseconds(200))
            #expect(pool.currentThreadIndex != nil)
            seen.mark(i)
        }
        #expect(seen.total == 200 && seen.duplicates == 0 && seen.missing == 0)
        #expect(gauge.highest <= maxConcurrent)
        await pool.shutdown()
    }

    @Test("map keeps the input order, over a sequence and an async sequence")
    func mapOrder() async throws {
        let pool = try ThreadPool(threads: 2)
        let squares = try await pool.map(Array(0..<100), maxConcurrent: 8) { i in
            try await Task.sleep(for: .microseconds((100 - i) * 20))
            return i * i
        }
        #expect(squares == (0..<100).map { $0 * $0 })
        let stream = AsyncStream<Int> { continuation in
            for i in 0..<50 { continuation.yield(i) }
            continuation.finish()
        }
        let doubled = try await pool.map(stream, maxConcurrent: 4) { $0 * 2 }
        #expect(doubled == (0..<50).map { $0 * 2 })
        let none = try await pool.map([Int](), maxConcurrent: 4) { $0 }
        #expect(none.isEmpty)
        await pool.shutdown()
    }

    @Test("the first error cancels the rest and is rethrown; no element is taken after it")
    func firstErrorStops() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Counter()
        await #expect(throws: TestError.boom(10)) {
            try await pool.forEach(0..<10_000, maxConcurrent: 4) { i in
                started.add()
                if i == 10 { throw TestError.boom(10) }
                try await Task.sleep(for: .microseconds(100))
            }
        }
        #expect(started.value < 10_000)
        await pool.shutdown()
    }

    @Test("an endless async sequence is read lazily: bounded in flight, stopped by an error")
    func endlessAsyncSequence() async throws {
        let pool = try ThreadPool(threads: 2)
        let pulled = Counter()
        let endless = AsyncStream<Int>(unfolding: { pulled.add() })
        let gauge = ConcurrencyGauge()
        await #expect(throws: TestError.boom(1_000)) {
            try await pool.forEach(endless, maxConcurrent: 5) { i in
                gauge.enter()
                defer { gauge.leave() }
                if i >= 1_000 { throw TestError.boom(1_000) }
            }
        }
        #expect(gauge.highest <= 5)
        // Elements are pulled only for free slots: a handful past the failing one at most.
        #expect(pulled.value <= 1_000 + 5 + 1)
        await pool.shutdown()
    }

    @Test("cancelling the caller stops work that has not started")
    func callerCancellation() async throws {
        let pool = try ThreadPool(threads: 2)
        // The whole check runs on the driver pool: its polling must not wait for a cooperative
        // thread, which sanitizer-slowed tests may hold for minutes.
        await Task(executorPreference: asyncDriver) {
            let started = Counter()
            let caller = Task(executorPreference: asyncDriver) {
                try await pool.forEach(0..<100_000, maxConcurrent: 2) { _ in
                    started.add()
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            #expect(await eventually { started.value >= 4 })
            caller.cancel()
            await #expect(throws: CancellationError.self) { try await caller.value }
            #expect(started.value < 100_000)
        }.value
        await pool.shutdown()
    }

    @Test("maxConcurrent below 1 is a clear error")
    func invalidMaxConcurrent() async throws {
        let pool = try ThreadPool(threads: 1)
        await #expect(throws: ThreadPoolError.invalidMaxConcurrent(0)) {
            try await pool.forEach([1], maxConcurrent: 0) { _ in }
        }
        await #expect(throws: ThreadPoolError.invalidMaxConcurrent(-3)) {
            _ = try await pool.map([1], maxConcurrent: -3) { $0 }
        }
        #expect(String(describing: ThreadPoolError.invalidMaxConcurrent(0)).contains("maxConcurrent"))
        await pool.shutdown()
    }
}

@Suite("async: graceful shutdown")
struct GracefulShutdownTests {
    @Test("with time enough, everything queued finishes and the result is true")
    func finishesInTime() async throws {
        let pool = try ThreadPool(threads: 2)
        let ran = OnceTracker(count: 300)
        let handles = try (0..<300).map { i in
            try pool.submit {
                ran.mark(i); return i
            }
        }
        let clean = await pool.shutdown(gracePeriod: .seconds(60))
        #expect(clean)
        #expect(ran.total == 300 && ran.missing == 0)
        for (i, handle) in handles.enumerated() { #expect(try await handle.value == i) }
        #expect(throws: ThreadPoolError.shutDown) { try pool.spawn {} }
    }

    @Test("at the deadline, tasks not yet started are cancelled and reported; the result is false")
    func cancelsAtDeadline() async throws {
        let blocked = try BlockedPool()
        let pool = blocked.pool
        let ran = Counter()
        let handles = try (0..<5).map { _ in try pool.submit { ran.add() } }
        for _ in 0..<3 { try pool.spawn { ran.add() } }
        let clean = await pool.shutdown(gracePeriod: .milliseconds(30))
        #expect(!clean)
        for handle in handles {
            #expect(throws: CancellationError.self) { try handle.wait() }
        }
        #expect(pool.metrics.cancelledTasks == 8)
        blocked.unblock()
        #expect(await eventually { pool.registry.haveWorkersLeft })
        #expect(ran.value == 0)
        #expect(pool.metrics.pendingTasks == 0)
    }

    @Test("async work in flight on the pool's executor completes across the shutdown")
    func inFlightAsyncWork() async throws {
        let pool = try ThreadPool(threads: 2)
        let done = Counter()
        let tasks = (0..<20).map { _ in
            Task(executorPreference: pool) {
                try? await Task.sleep(for: .milliseconds(5))
                done.add()
            }
        }
        let clean = await pool.shutdown(gracePeriod: .seconds(60))
        for task in tasks { await task.value }
        #expect(clean)
        #expect(done.value == 20)
    }

    @Test("a second graceful shutdown waits for the first")
    func twice() async throws {
        let pool = try ThreadPool(threads: 2)
        try pool.spawn { sleepMilliseconds(20) }  // a worker thread, not a cooperative one
        async let first = pool.shutdown(gracePeriod: .seconds(60))
        async let second = pool.shutdown(gracePeriod: .seconds(60))
        let (a, b) = await (first, second)
        #expect(a && b)
    }
}

@Suite("metrics")
struct MetricsTests {
    @Test("task outcomes, pending work, pressure and success rate are counted")
    func outcomes() async throws {
        let blocked = try BlockedPool(maxPending: 10)
        let pool = blocked.pool
        let ok = try (0..<4).map { i in try pool.submit { i } }
        let bad = try (0..<2).map { _ in try pool.submit { () throws -> Int in throw TestError.left } }
        let cancelled = try pool.submit { 0 }
        cancelled.cancel()
        try pool.spawn {}
        let during = pool.metrics
        #expect(during.threadCount == 1)
        #expect(during.busyThreads == 1)  // the blocked worker
        #expect(during.pendingTasks == 7)
        #expect(during.queuePressure == 0.7)
        #expect(during.queuedBackgroundJobs >= 7)
        #expect(during.cancelledTasks == 1)
        blocked.unblock()
        for h in ok { _ = try await h.value }
        for h in bad { _ = try? await h.value }
        await pool.shutdown()
        let after = pool.metrics
        #expect(after.completedTasks == 4 + 1 + 1)  // the four, the spawn and the blocker
        #expect(after.failedTasks == 2)
        #expect(after.cancelledTasks == 1)
        #expect(after.successRate == 6.0 / 9.0)
        #expect(after.pendingTasks == 0)
        #expect(after.busyThreads == 0)
        #expect((0...1).contains(after.utilization))
        #expect(after.busyTime > .zero)
    }

    @Test("joins and loops show up as steals and promotions; utilisation stays in 0...1")
    func schedulerCounters() throws {
        let pool = try ThreadPool(threads: 2)
        #expect(pool.metrics.successRate == 1)
        #expect(pool.metrics.queuePressure == nil)
        let spread = repeatUntil({ pool.metrics.steals > 0 && pool.metrics.heartbeatPromotions > 0 }) {
            _ = (0..<200_000).parallel(on: pool).map { isPrimeSlowly($0) }.count(where: { $0 })
        }
        #expect(spread)
        #expect((0...1).contains(pool.metrics.utilization))
        pool.shutdown()
    }

    @Test("metrics(every:) yields snapshots until the consumer stops")
    func stream() async throws {
        let pool = try ThreadPool(threads: 2)
        var seen = 0
        for await snapshot in pool.metrics(every: .milliseconds(5)) {
            #expect(snapshot.threadCount == 2)
            #expect((0...1).contains(snapshot.utilization))
            #expect(snapshot.interval > .zero)
            seen += 1
            if seen == 3 { break }
        }
        #expect(seen == 3)
        await pool.shutdown()
    }

    @Test("presets: one worker per core for CPU work, two for I/O, both bounded")
    func presets() {
        #expect(ThreadPool.Configuration.cpuBound.threads == ThreadPool.usableCoreCount)
        #expect(ThreadPool.Configuration.ioBound.threads == 2 * ThreadPool.usableCoreCount)
        #expect(ThreadPool.Configuration.cpuBound.maxPending != nil)
        #expect(ThreadPool.Configuration.ioBound.maxPending != nil)
    }
}

/// Trial division (uneven work per item).
func isPrimeSlowly(_ n: Int) -> Bool {
    if n < 2 { return false }
    var d = 2
    while d * d <= n {
        if n % d == 0 { return false }
        d += 1
    }
    return true
}

/// A serial executor on one dispatch queue, which can tell whether the calling code runs on it.
final class QueueExecutor: SerialExecutor {
    let queue = DispatchQueue(label: "spindle-tests.queue-executor")
    private let key = DispatchSpecificKey<Bool>()

    init() { queue.setSpecific(key: key, value: true) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }

    /// Whether the calling code runs on this executor's queue.
    var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }
}

/// An actor on a `QueueExecutor`.
actor QueueActor {
    let executor = QueueExecutor()
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Calls `pool.run` `calls` times from this actor; for each call, whether `run` handed the
    /// work over on this actor's executor.
    func runRecordingHandOvers(on pool: ThreadPool, calls: Int) async throws -> [Bool] {
        let executor = self.executor
        let onActor = Locked<[Bool]>([])
        let values = try await _RunTestHooks.$submission.withValue({ onActor.withLock { $0.append(executor.isCurrent) } }) {
            () async throws -> [Int] in
            _ = self  // isolates this closure to the actor (one that captures no isolated value is not)
            var values: [Int] = []
            for i in 0..<calls { values.append(try await pool.run { i }) }
            return values
        }
        #expect(values == Array(0..<calls))
        return onActor.withLock { $0 }
    }
}
