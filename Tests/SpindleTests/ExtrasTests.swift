import Foundation
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
        #expect(try await handle.value == (0..<threads).map { $0 * 10 })
        #expect(try await handle.value == (0..<threads).map { $0 * 10 })
        #expect(handle.isComplete)
        #expect(ranOn.total == threads && ranOn.duplicates == 0 && ranOn.missing == 0)
        await pool.shutdown()
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

@Suite("N-way join")
struct JoinNTests {
    @Test("3-, 5- and 8-way joins return every result, of mixed types, from inside and outside the pool")
    func results() throws {
        let pool = try ThreadPool(threads: 3)
        let (a, b, c) = pool.join({ fibJoin(pool, 15) }, { "two" }, { [3.0] })
        #expect(a == fibSequential(15) && b == "two" && c == [3.0])
        // Three closures of one result type type-check (no overload ambiguity).
        let same = pool.join({ 1 }, { 2 }, { 3 })
        #expect(same == (1, 2, 3))
        let five = pool.install {
            pool.join(
                { fibJoin(pool, 10) }, { fibJoin(pool, 11) }, { fibJoin(pool, 12) },
                { fibJoin(pool, 13) }, { fibJoin(pool, 14) })
        }
        #expect([five.0, five.1, five.2, five.3, five.4] == (10...14).map(fibSequential))
        let eight = pool.join({ 0 }, { fibJoin(pool, 16) }, { 2 }, { fibJoin(pool, 15) }, { 4 }, { "5" }, { 6 }, { fibJoin(pool, 17) })
        #expect(eight.0 == 0 && eight.1 == fibSequential(16) && eight.2 == 2 && eight.3 == fibSequential(15))
        #expect(eight.4 == 4 && eight.5 == "5" && eight.6 == 6 && eight.7 == fibSequential(17))
        pool.shutdown()
    }

    @Test("every closure runs exactly once, even when the join is offered and stolen", arguments: [3, 5, 8])
    func exactlyOnce(ways: Int) throws {
        let pool = try ThreadPool(threads: 2)
        for _ in 0..<(isSanitizerRun ? 40 : 200) {
            let runs = OnceTracker(count: 8)
            let work: @Sendable (Int) -> Int = { i in
                runs.mark(i); return fibJoin(pool, 12) + i
            }
            switch ways {
            case 3:
                let r = pool.join({ work(0) }, { work(1) }, { work(2) })
                #expect(r == (work2(0), work2(1), work2(2)))
            case 5:
                let r = pool.join({ work(0) }, { work(1) }, { work(2) }, { work(3) }, { work(4) })
                #expect([r.0, r.1, r.2, r.3, r.4] == (0..<5).map(work2))
            default:
                let r = pool.join({ work(0) }, { work(1) }, { work(2) }, { work(3) }, { work(4) }, { work(5) }, { work(6) }, { work(7) })
                #expect([r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7] == (0..<8).map(work2))
            }
            #expect(runs.total == ways && runs.duplicates == 0)
        }
        pool.shutdown()
    }

    @Test("the closures after the first are offered to other threads")
    func offered() throws {
        let pool = try ThreadPool(threads: 2)
        let lastRan = Flag()
        let (firstSawLast, _, _) = pool.join(
            {
                repeatUntil({ lastRan.isSet }, step: { pumpJoins(pool) })
            }, { 1 }, { lastRan.set() })
        #expect(firstSawLast)
        pool.shutdown()
    }

    @Test("errors: the first in argument order, after every closure finished")
    func errors() throws {
        let pool = try ThreadPool(threads: 3)
        let finished = Counter()
        #expect(throws: TestError.boom(2)) {
            _ = try pool.join(
                { () throws(TestError) -> Int in
                    finished.add(); return 0
                },
                { () throws(TestError) -> Int in
                    finished.add(); return 1
                },
                { () throws(TestError) -> Int in
                    finished.add(); throw .boom(2)
                },
                { () throws(TestError) -> Int in
                    finished.add(); throw .boom(3)
                })
        }
        #expect(finished.value == 4)
        #expect(throws: TestError.left) {
            _ = try pool.join(
                { () throws(TestError) -> Int in throw .left },
                { () throws(TestError) -> Int in throw .right },
                { () throws(TestError) -> Int in 2 })
        }
        pool.shutdown()
    }
}

/// The value `work(i)` computes in `JoinNTests.exactlyOnce`, without the tracking.
func work2(_ i: Int) -> Int { fibSequential(12) + i }

@Suite("resizing")
struct ResizeTests {
    @Test("resize grows and shrinks the worker set; threadCount and broadcasts follow")
    func growAndShrink() throws {
        let pool = try ThreadPool(threads: 2)
        #expect(pool.maxThreadCount >= 8)
        try pool.resize(threads: 5)
        #expect(pool.threadCount == 5)
        #expect(pool.broadcast { $0.index } == [0, 1, 2, 3, 4])
        #expect(try pool.spawnBroadcast { $0.threadCount }.wait() == [5, 5, 5, 5, 5])
        try pool.resize(threads: 1)
        #expect(pool.threadCount == 1)
        #expect(pool.broadcast { $0.index } == [0])
        #expect(pool.metrics.threadCount == 1)
        try pool.resize(threads: 3)
        #expect(pool.broadcast { _ in pool.currentThreadIndex ?? -1 } == [0, 1, 2])
        #expect(fibJoin(pool, 20) == fibSequential(20))
        pool.shutdown()
    }

    @Test("bad sizes are refused with invalidThreadCount, and resizing after shutdown with shutDown")
    func badSizes() throws {
        let pool = try ThreadPool(threads: 2)
        for bad in [0, -1, pool.maxThreadCount + 1] {
            #expect(throws: ThreadPoolError.invalidThreadCount(bad)) { try pool.resize(threads: bad) }
        }
        #expect(pool.threadCount == 2)
        pool.shutdown()
        #expect(throws: ThreadPoolError.shutDown) { try pool.resize(threads: 3) }
    }

    @Test("a worker may shrink its own pool, itself included, and the slot can be used again")
    func resizeFromInside() throws {
        let pool = try ThreadPool(threads: 3)
        let result = try pool.submit { () throws -> Int in
            try pool.resize(threads: 1)
            return fibJoin(pool, 15)
        }
        #expect(try result.wait() == fibSequential(15))
        try pool.resize(threads: 4)
        #expect(pool.broadcast { $0.index } == [0, 1, 2, 3])
        pool.shutdown()
    }

    @Test("resizing up and down under continuous load loses and duplicates nothing")
    func underLoad() throws {
        let pool = try ThreadPool(threads: 2)
        let taskCount = 20_000
        let tasks = OnceTracker(count: taskCount)
        let scopeSpawns = OnceTracker(count: 200 * 50)
        let stop = Flag()
        let submitter = TestThread.start {
            for i in 0..<taskCount { try? pool.spawn { tasks.mark(i) } }
        }
        let forker = TestThread.start {
            var round = 0
            while !stop.isSet || round < 200 {
                if round < 200 {
                    let base = round * 50
                    pool.scope { s in for k in 0..<50 { s.spawn { scopeSpawns.mark(base + k) } } }
                }
                #expect(fibJoin(pool, 14) == fibSequential(14))
                #expect((0..<10_000).parallel(on: pool).sum() == 49_995_000)
                _ = pool.broadcast { $0.index }
                round += 1
            }
        }
        var rng = SplitMix64(seed: 42)
        for _ in 0..<60 {
            try pool.resize(threads: Int.random(in: 1...6, using: &rng))
            yieldThread()
        }
        submitter.join()
        stop.set()
        forker.join()
        pool.shutdown()
        #expect(tasks.total == taskCount && tasks.duplicates == 0 && tasks.missing == 0)
        #expect(scopeSpawns.total == 200 * 50 && scopeSpawns.duplicates == 0 && scopeSpawns.missing == 0)
    }
}

@Suite("tracing")
struct TracingTests {
    @Test("a tracing pool records jobs, steals and promotions as Chrome trace-event JSON")
    func chromeTrace() throws {
        var configuration = ThreadPool.Configuration(threads: 2)
        configuration.tracing = true
        let pool = try ThreadPool(configuration: configuration)
        // Until every kind asserted below is there: a steal and a promotion alone may both have
        // been of jobs that ran as scope spawns or were taken back, with no stolen join.
        let recorded = repeatUntil({
            guard let json = pool.chromeTrace() else { return false }
            return json.contains("\"steal\"") && json.contains("\"promotion\"") && json.contains("\"join\"")
        }) {
            // A join whose first branch waits for its second: the second is published at once
            // and runs on another thread, as a stolen join (bounded wait: a liveness guard).
            let secondRan = Flag()
            _ = pool.join({ _ = waitUntil(seconds: 10) { secondRan.isSet } }, { secondRan.set() })
            _ = (0..<100_000).parallel(on: pool).count(where: isPrimeSlowly)
            pool.scope { s in for _ in 0..<100 { s.spawn { _ = fibSequential(15) } } }
            _ = try? pool.submit { 1 }.wait()
        }
        #expect(recorded)
        pool.shutdown()
        let json = try #require(pool.chromeTrace())
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let events = try #require(object?["traceEvents"] as? [[String: Any]])
        let names = Set(events.compactMap { $0["name"] as? String })
        #expect(names.isSuperset(of: ["thread_name", "steal", "promotion", "join", "scope spawn", "background task"]))
        // Every lane's begin and end events pair up.
        var depth: [Int: Int] = [:]
        for event in events {
            guard let tid = event["tid"] as? Int, let phase = event["ph"] as? String else { continue }
            if phase == "B" { depth[tid, default: 0] += 1 }
            if phase == "E" { depth[tid, default: 0] -= 1; #expect(depth[tid]! >= 0) }
        }
        #expect(depth.values.allSatisfy { $0 == 0 })
    }

    @Test("a pool without tracing has no trace")
    func off() throws {
        let pool = try ThreadPool(threads: 1)
        #expect(pool.chromeTrace() == nil)
        pool.shutdown()
    }
}

@Suite("regressions found by spindle-stress")
struct StressRegressionTests {
    @Test("a worker waiting on its pool's broadcast spawn from inside another pool's call runs its own part")
    func broadcastSpawnFromNestedCall() throws {
        let a = try ThreadPool(threads: 1)
        let b = try ThreadPool(threads: 1)
        let finished = completes(within: 60, "spawnBroadcast(...).wait() inside b.install on a's worker") {
            let values = try? onWorker(a) { () -> [Int]? in
                b.install { try? a.spawnBroadcast { $0.index }.wait() }
            }
            #expect(values == .some([0]))
        }
        #expect(finished)
        a.shutdown()
        b.shutdown()
    }

    @Test("run calls still queued at a graceful shutdown's deadline end with CancellationError")
    func runCancelledAtShutdown() async throws {
        let blocked = try BlockedPool(maxPending: 4)
        let pool = blocked.pool
        let calls = (0..<2).map { i in Task(executorPreference: asyncDriver) { try await pool.run { i } } }
        #expect(await eventually { pool.metrics.pendingTasks == 2 })
        let clean = await pool.shutdown(gracePeriod: .milliseconds(20))
        #expect(!clean)
        for call in calls {
            await #expect(throws: CancellationError.self) { try await call.value }
        }
        #expect(pool.metrics.pendingTasks == 0)
        blocked.unblock()
    }
}
