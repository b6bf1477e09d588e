import Testing
@testable import Spindle

@Suite("blocking sections")
struct BlockingSectionTests {
    /// A pool whose spares retire quickly once idle.
    func makePool(threads: Int = 2, maxSpares: Int? = nil) throws -> ThreadPool {
        var configuration = ThreadPool.Configuration(threads: threads)
        configuration.maxSpareThreads = maxSpares
        configuration.spareThreadIdleTimeout = .milliseconds(20)
        return try ThreadPool(configuration: configuration)
    }

    /// Blocks `count` workers of `pool` in blocking sections until `gate` is signalled once per
    /// worker; returns once all of them are inside.
    func blockWorkers(_ pool: ThreadPool, count: Int, on gate: TestSemaphore) throws {
        let inside = Counter()
        for _ in 0..<count {
            try pool.spawn {
                pool.blocking {
                    inside.add()
                    gate.wait()
                }
            }
        }
        #expect(waitUntil { inside.value == count })
    }

    @Test("CPU work runs while every worker is blocked, and the spares go away afterwards")
    func compensates() throws {
        let pool = try makePool()
        defer { pool.shutdown() }
        let gate = TestSemaphore()
        try blockWorkers(pool, count: 2, on: gate)
        #expect(pool.threadCount == 4)
        // Both workers wait on `gate`; only the spares can run this. (A `spawn`, not a
        // `submit().wait()`: a waiting caller could run the task itself.)
        let ran = TestSemaphore()
        let total = Counter()
        for i in 0..<100 {
            try pool.spawn {
                total.add(i)
                ran.signal()
            }
        }
        var allRan = true
        for _ in 0..<100 where !ran.wait(timeoutSeconds: 60) { allRan = false }
        #expect(allRan && total.value == 4_950)
        // A parallel loop from outside gets the spares too.
        #expect((0..<100_000).parallel(on: pool).sum() == 4_999_950_000)
        gate.signal()
        gate.signal()
        #expect(waitUntil { pool.threadCount == 2 }, "idle spares retire")
    }

    @Test("the spares stop at maxSpareThreads; 0 turns them off")
    func cap() throws {
        for cap in [0, 1] {
            let pool = try makePool(threads: 2, maxSpares: cap)
            let gate = TestSemaphore()
            try blockWorkers(pool, count: 2, on: gate)
            #expect(pool.threadCount == 2 + cap)
            if cap == 1 {
                let ran = TestSemaphore()
                try pool.spawn { ran.signal() }
                #expect(ran.wait(timeoutSeconds: 60))
            }
            gate.signal()
            gate.signal()
            pool.shutdown()
        }
    }

    @Test("outside the pool the body just runs; errors and values come back")
    func outside() throws {
        let pool = try makePool()
        defer { pool.shutdown() }
        #expect(pool.blocking { 5 } == 5)
        #expect(pool.threadCount == 2)
        #expect(throws: TestError.boom(1)) {
            try pool.blocking { () throws(TestError) -> Int in throw TestError.boom(1) }
        }
        #expect(Spindle.blocking { "free" } == "free")
        // On a worker, a throwing body still ends its section (no spare is kept for it).
        let result = try onWorker(pool) { () -> Bool in
            let threw = (try? pool.blocking { () throws(TestError) -> Int in throw TestError.boom(2) }) == nil
            return threw && Spindle.blocking { true }
        }
        #expect(result)
        #expect(waitUntil { pool.registry.lifecycleLock.withLock { pool.registry.blockingSections.blockedWorkers == 0 } })
    }

    @Test("invalid spare settings are rejected")
    func validation() {
        var configuration = ThreadPool.Configuration(threads: 1)
        configuration.maxSpareThreads = -1
        #expect(throws: ThreadPoolError.invalidMaxSpareThreads(-1)) { _ = try ThreadPool(configuration: configuration) }
        configuration.maxSpareThreads = nil
        configuration.spareThreadIdleTimeout = .zero
        #expect(throws: ThreadPoolError.invalidSpareThreadIdleTimeout(.zero)) { _ = try ThreadPool(configuration: configuration) }
    }
}
