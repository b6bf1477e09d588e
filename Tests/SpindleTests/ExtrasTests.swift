import Synchronization
import Testing
@testable import Spindle

@Suite("fork-join extras: yield and broadcast spawns")
struct ExtrasTests {
    @Test("yieldNow and yieldLocal from outside a worker do nothing and say so")
    func yieldOutside() {
        #expect(ThreadPool.yieldNow() == .notOnWorker)
        #expect(ThreadPool.yieldLocal() == .notOnWorker)
    }

    @Test("yieldLocal runs one of this worker's own queued jobs and reports it")
    func yieldLocalRunsOwnJob() throws {
        let pool = try ThreadPool(threads: 1)
        // On a worker (install or wait() from an outside thread would run it on this thread).
        let outcome = try onWorker(pool) { () -> (ThreadPool.YieldOutcome, ThreadPool.YieldOutcome, Bool) in
            let ran = Flag()
            return pool.scope { s in
                // The spawn sits on this worker's own deque; the only other worker is this one.
                s.spawn { ran.set() }
                let first = ThreadPool.yieldLocal()
                let sawIt = ran.isSet
                let second = ThreadPool.yieldLocal()
                return (first, second, sawIt)
            }
        }
        #expect(outcome.0 == .ranJob)
        #expect(outcome.2)
        #expect(outcome.1 == .noJobWaiting)
        pool.shutdown()
    }

    @Test("yieldNow runs a related job and reports it; with nothing queued it says so")
    func yieldNowRunsRelatedJob() throws {
        let pool = try ThreadPool(threads: 1)
        let outcomes = try onWorker(pool) { () -> [ThreadPool.YieldOutcome] in
            let count = Counter()
            return pool.scope { s in
                for _ in 0..<3 { s.spawn { count.add() } }
                var seen: [ThreadPool.YieldOutcome] = []
                for _ in 0..<4 { seen.append(ThreadPool.yieldNow()) }
                #expect(count.value == 3)
                return seen
            }
        }
        #expect(outcomes == [.ranJob, .ranJob, .ranJob, .noJobWaiting])
        pool.shutdown()
    }

    @Test("spawnBroadcast runs once on every worker; results come in worker order", arguments: [1, 2, 4])
    func spawnBroadcastOncePerWorker(threads: Int) async throws {
        let pool = try ThreadPool(threads: threads)
        let ranOn = OnceTracker(count: threads)
        let handle = try pool.spawnBroadcast { context -> Int in
            #expect(pool.currentThreadIndex == context.index)
            #expect(context.threadCount == threads)
            ranOn.mark(context.index)
            return context.index * 10
        }
        #expect(try handle.wait() == (0..<threads).map { $0 * 10 })
        #expect(try await handle.value == (0..<threads).map { $0 * 10 })
        #expect(handle.isComplete)
        #expect(ranOn.total == threads && ranOn.duplicates == 0 && ranOn.missing == 0)
        pool.shutdown()
    }

    @Test("spawnBroadcast returns before the parts run, and they run after foreground work")
    func spawnBroadcastIsBackground() throws {
        let blocked = try BlockedPool()
        let ran = Counter()
        let handle = try blocked.pool.spawnBroadcast { _ in ran.add() }
        #expect(!handle.isComplete)
        #expect(ran.value == 0)
        blocked.unblock()
        _ = try handle.wait()
        #expect(ran.value == 1)
        blocked.pool.shutdown()
    }

    @Test("spawnBroadcast: the first error in worker order is rethrown after every part finished")
    func spawnBroadcastErrors() throws {
        let pool = try ThreadPool(threads: 3)
        let finished = Counter()
        let handle = try pool.spawnBroadcast { context in
            defer { finished.add() }
            if context.index >= 1 { throw TestError.boom(context.index) }
        }
        #expect(throws: TestError.boom(1)) { try handle.wait() }
        #expect(finished.value == 3)
        pool.shutdown()
        #expect(throws: ThreadPoolError.shutDown) { _ = try pool.spawnBroadcast { _ in 1 } }
    }

    @Test("waiting on a broadcast spawn from inside a worker does not deadlock")
    func spawnBroadcastWaitInside() throws {
        let pool = try ThreadPool(threads: 2)
        let results = try pool.submit { () throws -> [Int] in
            try pool.spawnBroadcast { $0.index }.wait()
        }.wait()
        #expect(results == [0, 1])
        pool.shutdown()
    }

    @Test("a graceful shutdown's deadline cancels broadcast parts that have not started")
    func spawnBroadcastCancelledAtShutdown() async throws {
        let blocked = try BlockedPool()
        let handle = try blocked.pool.spawnBroadcast { _ in 1 }
        let clean = await blocked.pool.shutdown(gracePeriod: .milliseconds(20))
        #expect(!clean)
        #expect(throws: CancellationError.self) { try handle.wait() }
        blocked.unblock()
    }
}

/// Runs `body` on one of the pool's workers and returns its value.
func onWorker<T: Sendable>(_ pool: ThreadPool, _ body: @escaping @Sendable () -> T) throws -> T {
    let done = TestSemaphore()
    let result = Locked<T?>(nil)
    try pool.spawn {
        result.withLock { $0 = body() }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}
