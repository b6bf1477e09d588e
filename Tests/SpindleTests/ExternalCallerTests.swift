import Synchronization
import Testing
@testable import Spindle

@Suite("outside callers")
struct ExternalCallerTests {
    @Test("8 outside threads join on the same pool at once, all results correct")
    func eightOutsideThreads() throws {
        let pool = try ThreadPool(threads: 3)
        let resultsBox = Locked<[Int]>(Array(repeating: -1, count: 8))
        completes("8 concurrent outside joins") {
            runOnThreads(8) { i in
                let n = 16 + i % 4
                var sum = 0
                // Several rounds per thread, so the callers overlap.
                for _ in 0..<3 {
                    let (a, b) = pool.join({ fibJoin(pool, n) }, { fibJoin(pool, n - 1) })
                    sum += a + b
                }
                resultsBox.withLock { $0[i] = sum }
            }
        }
        let got = resultsBox.snapshot
        for i in 0..<8 {
            let n = 16 + i % 4
            #expect(got[i] == 3 * (fibSequential(n) + fibSequential(n - 1)), "thread \(i)")
        }
    }

    @Test("outside threads run scopes on the same pool at once")
    func concurrentOutsideScopes() throws {
        let pool = try ThreadPool(threads: 2)
        let tracker = OnceTracker(count: 8 * 2_000)
        completes("concurrent outside scopes") {
            runOnThreads(8) { t in
                pool.scope { s in
                    for j in 0..<2_000 {
                        s.spawn { tracker.mark(t * 2_000 + j) }
                    }
                }
            }
        }
        #expect(tracker.total == 8 * 2_000)
        #expect(tracker.duplicates == 0)
        #expect(tracker.missing == 0)
    }

    @Test("an outside caller is not a worker: currentThreadIndex is nil inside its calls")
    func outsideCallerHasNoIndex() throws {
        let pool = try ThreadPool(threads: 2)
        #expect(pool.currentThreadIndex == nil)
        #expect(ThreadPool.currentThreadIndex == nil)
        let (a, _) = pool.join({ pool.currentThreadIndex }, { 0 })
        #expect(a == nil)
        let inScope = pool.scope { _ in pool.currentThreadIndex }
        #expect(inScope == nil)
    }

    @Test("foreground work of an outside caller never waits behind background work")
    func foregroundDoesNotWaitForBackground() throws {
        let pool = try ThreadPool(threads: 1)
        let blockerStarted = TestSemaphore()
        let release = TestSemaphore()
        defer { release.signal() }  // never leave the worker blocked
        let order = Locked<[String]>([])
        try pool.spawn {
            blockerStarted.signal()
            release.wait()
            order.append("blocker-done")
        }
        blockerStarted.wait()
        for i in 0..<5 {
            try pool.spawn { order.append("bg\(i)") }
        }
        let spawnsOnWorker = Counter()
        let joinResult = Counter()
        // The only worker is blocked: the outside caller must do its scope (and join) itself.
        let finished = completes("a scope and a join while the only worker is blocked") {
            pool.scope { s in
                for i in 0..<5 {
                    s.spawn {
                        if pool.currentThreadIndex != nil { spawnsOnWorker.add() }
                        order.append("fg\(i)")
                    }
                }
            }
            let (a, b) = pool.join({ fibJoin(pool, 15) }, { fibJoin(pool, 14) })
            joinResult.add(a + b)
        }
        #expect(finished)
        let whileBlocked = order.snapshot
        #expect(whileBlocked.count == 5)
        #expect(whileBlocked.allSatisfy { $0.hasPrefix("fg") }, "\(whileBlocked)")
        #expect(spawnsOnWorker.value == 0)
        #expect(joinResult.value == fibSequential(16))

        release.signal()
        pool.shutdown()
        let all = order.snapshot
        #expect(Array(all.suffix(6)) == ["blocker-done", "bg0", "bg1", "bg2", "bg3", "bg4"])
    }

    // MARK: Across pools

    @Test("a worker of one pool joining on another pool does not deadlock")
    func joinFromAnotherPoolsWorker() throws {
        let poolA = try ThreadPool(threads: 2)
        let poolB = try ThreadPool(threads: 2)
        let results = Locked<[Int]>([])
        let indices = Locked<[Int?]>([])
        completes("poolA workers joining on poolB") {
            let r = poolA.broadcast { _ in
                let (x, y) = poolB.join({ fibJoin(poolB, 15) }, { fibJoin(poolB, 14) })
                // Inside poolB's calls the thread is an outside caller of poolB.
                let index = poolB.install { poolB.currentThreadIndex }
                indices.withLock { $0.append(index) }
                return x + y
            }
            results.withLock { $0 = r }
        }
        #expect(results.snapshot == [fibSequential(16), fibSequential(16)])
        #expect(indices.snapshot == [nil, nil])

        // The same from a background task of poolA.
        let handle = try poolA.submit { poolB.install { fibFreeJoin(15) } }
        #expect(try handle.wait() == fibSequential(15))
    }

    @Test("two pools joining into each other do not deadlock")
    func poolsJoinIntoEachOther() throws {
        let poolA = try ThreadPool(threads: 2)
        let poolB = try ThreadPool(threads: 2)
        let expected = fibSequential(15)
        let fromA = Locked<[Int]>([])
        let fromB = Locked<[Int]>([])
        let fromOutside = Locked<[Int]>([])
        completes("pools joining into each other") {
            runOnThreads(3) { t in
                switch t {
                case 0:
                    let r = poolA.broadcast { _ in fibPingPong(poolB, poolA, 15) }
                    fromA.withLock { $0 = r }
                case 1:
                    let r = poolB.broadcast { _ in fibPingPong(poolA, poolB, 15) }
                    fromB.withLock { $0 = r }
                default:
                    let r = fibPingPong(poolA, poolB, 15)
                    fromOutside.withLock { $0 = [r] }
                }
            }
        }
        #expect(fromA.snapshot == [expected, expected])
        #expect(fromB.snapshot == [expected, expected])
        #expect(fromOutside.snapshot == [expected])
    }

    @Test("a background task of one pool waits on a task it submitted to another")
    func tasksAcrossPools() throws {
        let poolA = try ThreadPool(threads: 1)
        let poolB = try ThreadPool(threads: 1)
        let handle = try poolA.submit { () throws -> Int in
            let inner = try poolB.submit { fibJoin(poolB, 15) }
            return try inner.wait() + fibJoin(poolA, 10)
        }
        var value = 0
        let ok = completes("tasks across pools") {
            _ = try? handle.wait()
        }
        if ok { value = try handle.wait() }
        #expect(value == fibSequential(15) + fibSequential(10))
    }
}
