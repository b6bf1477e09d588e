import Synchronization
import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Spins (yielding the CPU) until `ThreadPool.isCancelled` turns true; false if it has not after
/// `seconds` (a liveness guard, so that a missing cancellation fails the test instead of hanging it).
func spinUntilPoolCancellation(seconds: Double = 120) -> Bool {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    while !ThreadPool.isCancelled {
        if ContinuousClock.now > deadline { return false }
        sched_yield()
    }
    return true
}

/// A branch of the tests below: counts itself as started, spins until it sees the cancellation,
/// then records the thread that saw it (-1: outside the pool).
func branchAwaitingCancellation(_ pool: ThreadPool, started: Counter, observers: ThreadSet) {
    started.add()
    if spinUntilPoolCancellation() { observers.insert(pool.currentThreadIndex) }
}

/// Cancels `task` from a thread of its own as soon as `ready()` holds (waiting at most `seconds`).
/// The tests below do not cancel from their own task: under the sanitizers, other tests can hold
/// every thread of Swift's cooperative pool for minutes, and the cancellation would then arrive
/// after the work's own liveness deadline. `join()` says whether `ready()` held in time.
func cancel<Success: Sendable, Failure: Error>(
    _ task: Task<Success, Failure>, once ready: @escaping @Sendable () -> Bool, seconds: Double = 300
) -> Canceller {
    let sawReady = Flag()
    let thread = TestThread.start {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
        while !ready() {
            if ContinuousClock.now > deadline { break }
            sched_yield()
        }
        if ready() { sawReady.set() }
        task.cancel()
    }
    return Canceller(thread: thread, sawReady: sawReady)
}

/// The thread `cancel(_:once:)` started.
struct Canceller {
    let thread: TestThread
    let sawReady: Flag

    /// Waits for the thread (it has cancelled by now: the awaited work only ends once cancelled)
    /// and says whether the condition held before its deadline.
    func join() -> Bool {
        thread.join()
        return sawReady.isSet
    }
}

/// Which threads (pool indices) observed a cancellation.
final class ThreadSet: Sendable {
    private let members = Locked<Set<Int>>([])

    func insert(_ index: Int?) { _ = members.withLock { $0.insert(index ?? -1) } }

    var snapshot: Set<Int> { members.withLock { $0 } }
}

@Suite("cancellation flows from Swift tasks into the work they start")
struct CancellationFlowTests {
    @Test("isCancelled is false outside any task, in run and in a stolen branch of an uncancelled call")
    func falseWhenNotCancelled() async throws {
        #expect(!ThreadPool.isCancelled)
        let pool = try ThreadPool(threads: 2)
        let seen = try await pool.run { () -> [Bool] in
            let (a, b) = pool.join({ ThreadPool.isCancelled }, { ThreadPool.isCancelled })
            return [ThreadPool.isCancelled, a, b]
        }
        #expect(seen == [false, false, false])
        await pool.shutdown()
    }

    /// `fromPool`: the calling task prefers the pool itself, so `run` does not hop (the work runs
    /// on the task's own worker); otherwise it runs on the driver pool and `run` hands the work over.
    @Test(
        "run: cancelled while the work runs, the work sees isCancelled and its value still reaches the caller",
        arguments: [false, true])
    func runCancelledWhileRunning(fromPool: Bool) async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Flag()
        let caller = Task(executorPreference: fromPool ? pool : asyncDriver) {
            try await pool.run { () -> Bool in
                started.set()
                return spinUntilPoolCancellation()
            }
        }
        let canceller = cancel(caller, once: { started.isSet })
        // The work ran and returned: its value is not replaced by CancellationError.
        #expect(try await caller.value == true)
        #expect(canceller.join(), "the work never started")
        await pool.shutdown()
    }

    @Test("run: work that stops with checkCancellation makes run throw CancellationError")
    func runStoppedByCheckCancellation() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Flag()
        let caller = Task(executorPreference: asyncDriver) {
            try await pool.run { () -> Int in
                started.set()
                _ = spinUntilPoolCancellation()
                try ThreadPool.checkCancellation()
                return 5
            }
        }
        let canceller = cancel(caller, once: { started.isSet })
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(canceller.join(), "the work never started")
        await pool.shutdown()
    }

    @Test("run: both branches of a join see the caller's cancellation, the stolen one on another worker")
    func joinBranchesSeeCancellation() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Counter()
        let observers = ThreadSet()
        let caller = Task(executorPreference: asyncDriver) {
            try await pool.run {
                pool.join(
                    { branchAwaitingCancellation(pool, started: started, observers: observers) },
                    { branchAwaitingCancellation(pool, started: started, observers: observers) })
            }
        }
        // Both started: the first blocks its worker, so the second was taken by the other one.
        let canceller = cancel(caller, once: { started.value == 2 })
        _ = try await caller.value
        #expect(canceller.join(), "the work never started")
        #expect(observers.snapshot.count == 2, "observers: \(observers.snapshot)")
        await pool.shutdown()
    }

    @Test("run: checkCancellation in a throwing parallel loop stops the loop and its unstarted items")
    func loopStopsOnCancellation() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Counter()
        let caller = Task(executorPreference: asyncDriver) {
            try await pool.run {
                try (0..<64).parallel(on: pool).split(.perItem).forEach { _ in
                    started.add()
                    _ = spinUntilPoolCancellation()
                    try ThreadPool.checkCancellation()
                }
            }
        }
        let canceller = cancel(caller, once: { started.value >= 2 })
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(canceller.join(), "the work never started")
        #expect(started.value < 64, "every item started: the loop did not stop")
        await pool.shutdown()
    }

    @Test("a scope spawn sees the cancellation of the task that prefers the pool and opened the scope")
    func scopeSpawnInPreferringTask() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Counter()
        let observers = ThreadSet()
        let caller = Task(executorPreference: pool) {
            pool.scope { scope in
                scope.spawn { branchAwaitingCancellation(pool, started: started, observers: observers) }
                branchAwaitingCancellation(pool, started: started, observers: observers)
            }
        }
        let canceller = cancel(caller, once: { started.value == 2 })
        await caller.value
        #expect(canceller.join(), "the work never started")
        #expect(observers.snapshot.count == 2, "observers: \(observers.snapshot)")
        await pool.shutdown()
    }

    @Test("a join called from a task on another pool's thread carries that task's cancellation to the thief")
    func outsideCallerTask() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Counter()
        let observers = ThreadSet()
        let caller = Task(executorPreference: asyncDriver) {
            pool.join(
                { branchAwaitingCancellation(pool, started: started, observers: observers) },
                { branchAwaitingCancellation(pool, started: started, observers: observers) })
        }
        let canceller = cancel(caller, once: { started.value == 2 })
        _ = await caller.value
        #expect(canceller.join(), "the work never started")
        // The caller's own branch ran outside the pool (index -1), the other on a worker.
        #expect(observers.snapshot.count == 2, "observers: \(observers.snapshot)")
        await pool.shutdown()
    }

    @Test("a background task submitted from cancelled work is not cancelled with it")
    func backgroundTasksDoNotInherit() async throws {
        let pool = try ThreadPool(threads: 2)
        let started = Flag()
        let submitted = Locked<TaskHandle<Bool>?>(nil)
        let caller = Task(executorPreference: asyncDriver) {
            try await pool.run {
                started.set()
                let sawCancellation = spinUntilPoolCancellation()
                // Submitted after the call was cancelled: the task is not part of the call.
                let handle = try pool.submit { ThreadPool.isCancelled }
                submitted.withLock { $0 = handle }
                return sawCancellation
            }
        }
        let canceller = cancel(caller, once: { started.isSet })
        #expect(try await caller.value == true)
        #expect(canceller.join(), "the work never started")
        let handle = try #require(submitted.withLock { $0 })
        #expect(try await handle.value == false)
        await pool.shutdown()
    }

    @Test("run from a task that already runs on the pool does not hop: same worker, not a background task")
    func runWithoutHop() async throws {
        let pool = try ThreadPool(threads: 2)
        let (before, inside, after) = try await Task(executorPreference: pool) { () async throws -> (Int?, Int?, Int?) in
            let before = pool.currentThreadIndex
            let inside = try await pool.run { pool.currentThreadIndex }
            return (before, inside, pool.currentThreadIndex)
        }.value
        #expect(before != nil && inside == before && after == before)
        #expect(pool.metrics.completedTasks == 0)  // nothing went through the background queue
        await pool.shutdown()
    }
}

extension TaskTests {
    @Test("cancelling one of two awaiters of value does not cancel the task: both get its value")
    func cancellingOneAwaiter() async throws {
        let blocked = try BlockedPool()
        let handle = try blocked.pool.submit { 42 }
        let first = Task(executorPreference: asyncDriver) { try await handle.value }
        let second = Task(executorPreference: asyncDriver) { try await handle.value }
        #expect(await eventually { handle.task.awaiterCount == 2 })
        first.cancel()  // its cancellation handler runs here, synchronously
        #expect(!handle.isComplete, "the task was cancelled although another task awaits it")
        blocked.unblock()
        #expect(try await first.value == 42)
        #expect(try await second.value == 42)
        await blocked.pool.shutdown()
    }
}
