import Synchronization
import Testing
@testable import Spindle

/// A 1-thread pool whose only worker is stuck in a background job until `release` is signalled,
/// so that nothing queued behind it can start.
struct BlockedPool {
    let pool: ThreadPool
    let release = TestSemaphore()

    init(maxPending: Int? = nil) throws {
        pool = try ThreadPool(configuration: .init(threads: 1, maxPending: maxPending))
        let started = TestSemaphore()
        let release = self.release
        try pool.spawn {
            started.signal()
            release.wait()
        }
        started.wait()  // the blocker has started: it no longer counts as pending
    }

    func unblock() { release.signal() }
}

@Suite("tasks")
struct TaskTests {
    @Test("submit returns the value through wait(), and the handle reports completion")
    func submitAndWait() throws {
        let pool = try ThreadPool(threads: 2)
        let handle = try pool.submit { fibJoin(pool, 15) }
        #expect(try handle.wait() == fibSequential(15))
        #expect(handle.isComplete)
        #expect(!handle.isCancelled)
        // A second wait returns the same value.
        #expect(try handle.wait() == fibSequential(15))
    }

    @Test("a task that wait() runs on the waiting thread runs in its own pool: its joins and loops go there")
    func waiterRunsTheTaskInItsPool() throws {
        let blocked = try BlockedPool()
        defer { blocked.pool.shutdown() }
        let pool = blocked.pool
        // The only worker is blocked, so `wait()` claims the task and runs it on this thread.
        let handle = try pool.submit { () -> (inPool: Bool, sum: Int) in
            let inPool = Participant.current?.pointee.registryID == pool.registryID
            // No pool named: the current one (before the fix, the shared pool).
            return (inPool, (0..<1_000).parallel.map { $0 * 2 }.reduce(0, +))
        }
        let outcome = try handle.wait()
        blocked.unblock()
        #expect(outcome.inPool)
        #expect(outcome.sum == 999_000)
        #expect(Participant.current == nil)  // the waiter left the pool again
    }

    @Test("many submitted tasks all deliver their own values")
    func manyTasks() throws {
        let pool = try ThreadPool(threads: 3)
        let handles = try (0..<500).map { i in try pool.submit { i * i } }
        for (i, handle) in handles.enumerated() {
            #expect(try handle.wait() == i * i)
        }
        #expect(handles.allSatisfy { $0.isComplete })
    }

    @Test("isComplete becomes true once a worker ran the task")
    func isCompleteWithoutWaiting() throws {
        let pool = try ThreadPool(threads: 2)
        let ran = TestSemaphore()
        let handle = try pool.submit { () -> Int in
            ran.signal()
            return 5
        }
        ran.wait()  // the task body is running on a worker (a waiter would have been this thread)
        #expect(waitUntil { handle.isComplete })
        #expect(try handle.wait() == 5)
    }

    @Test("an error thrown by the task is rethrown by wait()")
    func errorIsRethrown() throws {
        let pool = try ThreadPool(threads: 2)
        let handle = try pool.submit { () throws -> Int in throw TestError.boom(9) }
        #expect(throws: TestError.boom(9)) { _ = try handle.wait() }
        #expect(handle.isComplete)
        // Still usable.
        #expect(try pool.submit { 1 }.wait() == 1)
    }

    @Test("cancel() before the task starts: wait() throws CancellationError and the task never runs")
    func cancelBeforeStart() throws {
        let blocked = try BlockedPool()
        defer { blocked.unblock() }
        let ran = Flag()
        let handle = try blocked.pool.submit { () -> Int in
            ran.set()
            return 1
        }
        #expect(!handle.isComplete)
        #expect(handle.cancel())
        #expect(handle.isCancelled)
        #expect(handle.isComplete)
        #expect(throws: CancellationError.self) { _ = try handle.wait() }
        // A second cancel reports that nothing was stopped this time.
        #expect(!handle.cancel())

        blocked.unblock()
        blocked.pool.shutdown()  // runs everything queued, the cancelled job included
        #expect(!ran.isSet)
        #expect(throws: CancellationError.self) { _ = try handle.wait() }
    }

    @Test("cancel() after completion changes nothing but isCancelled")
    func cancelAfterCompletion() throws {
        let pool = try ThreadPool(threads: 1)
        let handle = try pool.submit { 3 }
        #expect(try handle.wait() == 3)
        #expect(!handle.cancel())
        #expect(handle.isCancelled)
        #expect(try handle.wait() == 3)
    }

    @Test("a running task sees isCancelled but is not interrupted")
    func cancelWhileRunning() throws {
        let pool = try ThreadPool(threads: 1)
        let started = TestSemaphore()
        let proceed = TestSemaphore()
        defer { proceed.signal() }
        let box = Locked<TaskHandle<Bool>?>(nil)
        let handle = try pool.submit { () -> Bool in
            started.signal()
            proceed.wait()
            return box.snapshot?.isCancelled ?? false
        }
        box.withLock { $0 = handle }
        started.wait()
        #expect(!handle.cancel())  // already running
        proceed.signal()
        #expect(try handle.wait() == true)
        box.withLock { $0 = nil }  // break the handle → task → closure → box cycle
    }

    @Test("wait() on a task no worker has started runs it on the waiting thread")
    func waitRunsUnstartedTask() throws {
        let blocked = try BlockedPool()
        defer { blocked.unblock() }
        let pool = blocked.pool
        let handle = try pool.submit { pool.currentThreadIndex ?? -1 }
        // The only worker is blocked: the waiter runs the task itself, outside the pool.
        #expect(try handle.wait() == -1)
        blocked.unblock()
        blocked.pool.shutdown()
    }

    @Test("a task waiting on a task it submitted to its own 1-thread pool does not deadlock")
    func waitInsideTask() throws {
        let pool = try ThreadPool(threads: 1)
        let outer = try pool.submit { () throws -> Int in
            let inner = try pool.submit { fibJoin(pool, 12) }
            return try inner.wait() + 1
        }
        let done = completes("nested task wait") { _ = try? outer.wait() }
        if done { #expect(try outer.wait() == fibSequential(12) + 1) }
    }

    @Test("several threads waiting on one task all get its value")
    func severalWaiters() throws {
        let pool = try ThreadPool(threads: 2)
        let gate = TestSemaphore()
        defer { gate.signal() }
        let handle = try pool.submit { () -> Int in
            gate.wait()
            return 77
        }
        let got = Locked<[Int]>([])
        let waiters = (0..<4).map { _ in
            TestThread.start {
                let v = (try? handle.wait()) ?? -1
                got.withLock { $0.append(v) }
            }
        }
        gate.signal()
        for waiter in waiters { waiter.join() }
        #expect(got.snapshot == [77, 77, 77, 77])
    }

    @Test("spawn runs its work in the background")
    func spawnRuns() throws {
        let pool = try ThreadPool(threads: 2)
        let counter = Counter()
        for _ in 0..<1_000 { try pool.spawn { counter.add() } }
        pool.shutdown()
        #expect(counter.value == 1_000)
    }

    // MARK: maxPending

    @Test("maxPending: the job past the bound is refused with .saturated, the accepted ones all run")
    func maxPendingBound() throws {
        let blocked = try BlockedPool(maxPending: 3)
        defer { blocked.unblock() }
        let pool = blocked.pool
        let ran = Counter()
        let done = TestSemaphore()
        for _ in 0..<3 {
            try pool.spawn {
                ran.add()
                done.signal()
            }
        }
        #expect(throws: ThreadPoolError.saturated(maxPending: 3)) {
            try pool.spawn { ran.add(100) }
        }
        #expect(throws: ThreadPoolError.saturated(maxPending: 3)) {
            _ = try pool.submit { 1 }
        }

        blocked.unblock()
        for _ in 0..<3 { done.wait() }
        #expect(ran.value == 3)
        // Started jobs no longer count: room again.
        let handle = try pool.submit { 4 }
        #expect(try handle.wait() == 4)
        pool.shutdown()
        #expect(ran.value == 3)
    }

    @Test("the .saturated error describes the bound")
    func saturatedDescription() {
        let text = String(describing: ThreadPoolError.saturated(maxPending: 3))
        #expect(!text.isEmpty)
        #expect(text.contains("3"))
    }

    // MARK: Priorities

    @Test("a worker runs foreground work before queued background work")
    func workerPrefersForeground() throws {
        let blocked = try BlockedPool()
        defer { blocked.unblock() }
        let pool = blocked.pool
        let order = Locked<[String]>([])
        for i in 0..<3 {
            try pool.spawn { order.append("bg\(i)") }
        }
        // A broadcast part is foreground work that only the worker can run.
        let broadcaster = TestThread.start {
            _ = pool.broadcast { _ in order.append("broadcast") }
        }
        let inbox = pool.registry.participant(at: 0).pointee.inbox
        #expect(waitUntil { inbox.count == 1 })
        blocked.unblock()
        broadcaster.join()
        pool.shutdown()
        #expect(order.snapshot == ["broadcast", "bg0", "bg1", "bg2"])
    }
}

extension TaskTests {
    @Test("a worker waiting on a running task still runs its broadcast part that the task needs")
    func waitOnWorkerServesBroadcast() throws {
        let pool = try ThreadPool(threads: 2)
        let result = Locked<[Int]>([])
        let finished = completes(within: 60, "wait() on a worker for a task that broadcasts") {
            let done = TestSemaphore()
            // `spawn`, not `submit` + `wait`: the outer job must run on a worker.
            try! pool.spawn {
                let taskStarted = Flag()
                let inner = try! pool.submit { () -> [Int] in
                    taskStarted.set()
                    return pool.broadcast { $0.index }
                }
                // Let the other worker start `inner`, so that wait() cannot run it inline.
                while !taskStarted.isSet { yieldThread() }
                let r = try! inner.wait()
                result.withLock { $0 = r }
                done.signal()
            }
            done.wait()
        }
        #expect(finished)
        #expect(result.snapshot == [0, 1])
    }
}

extension TaskTests {
    @Test("value returns the task's result without blocking, before and after completion")
    func asyncValue() async throws {
        let pool = try ThreadPool(threads: 2)
        let handle = try pool.submit { fibSequential(20) }
        #expect(try await handle.value == fibSequential(20))
        #expect(try await handle.value == fibSequential(20))  // already complete
        let failing = try pool.submit { () throws -> Int in throw TestError.boom(7) }
        await #expect(throws: TestError.boom(7)) { try await failing.value }
    }

    @Test("cancelling the awaiting Swift task cancels a submitted task that has not started")
    func asyncValueCancellation() async throws {
        let blocked = try BlockedPool()
        let ran = Flag()
        let handle = try blocked.pool.submit {
            ran.set(); return 1
        }
        let awaiting = Task(executorPreference: asyncDriver) { try await handle.value }
        awaiting.cancel()
        await #expect(throws: CancellationError.self) { try await awaiting.value }
        #expect(handle.isComplete)
        blocked.unblock()
        _ = try await blocked.pool.submit { 0 }.value  // everything queued before has been dequeued
        #expect(!ran.isSet)
    }

    @Test("value(timeout:) gives up with .timedOut, and the task still runs afterwards")
    func asyncValueTimeout() async throws {
        let blocked = try BlockedPool()
        let handle = try blocked.pool.submit { 42 }
        await #expect(throws: ThreadPoolError.timedOut(.milliseconds(20))) {
            try await handle.value(timeout: .milliseconds(20))
        }
        #expect(!handle.isComplete)
        blocked.unblock()
        #expect(try await handle.value(timeout: .seconds(60)) == 42)
    }

    @Test("value(timeout:) lets go of the task's state once the value arrived, long before the timeout")
    func asyncValueTimeoutReleasesState() async throws {
        let pool = try ThreadPool(threads: 1)
        weak var state: TaskState<[Int]>?
        do {
            let handle = try pool.submit { Array(0..<1_000) }
            state = handle.task
            #expect(try await handle.value(timeout: .seconds(3_600)).count == 1_000)
        }
        // Before the fix the timer task slept on for the hour, holding the state and its result.
        // (A liveness bound, not a speed assertion: the cancelled timer ends at its next run.)
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while state != nil && ContinuousClock.now < deadline { await Task.yield() }
        #expect(state == nil, "the task state is still alive after the value was delivered")
        await pool.shutdown()
    }

    @Test("maxPending: a cancelled task and one run by wait() give their place back at once")
    func maxPendingPlaceGivenBack() throws {
        let blocked = try BlockedPool(maxPending: 2)
        let first = try blocked.pool.submit { 1 }
        let second = try blocked.pool.submit { 2 }
        #expect(throws: ThreadPoolError.saturated(maxPending: 2)) { try blocked.pool.spawn {} }
        #expect(first.cancel())
        let third = try blocked.pool.submit { 3 }  // the cancelled task's place
        #expect(throws: ThreadPoolError.saturated(maxPending: 2)) { try blocked.pool.spawn {} }
        #expect(try second.wait() == 2)  // runs inline: the worker is still blocked
        let fourth = try blocked.pool.submit { 4 }  // the place of the task run by wait()
        blocked.unblock()
        #expect(try third.wait() == 3)
        #expect(try fourth.wait() == 4)
    }
}
