// The behavioural scenarios of rayon-core's own tests (join, scope, spawn, broadcast, thread
// pool, yield) and of micropool's README claims, re-expressed for Spindle: Swift errors where
// rayon panics, handles where rayon uses channels. Each test's name cites the peer test it mirrors
// (rayon-core's `src/<module>/test.rs` function, or micropool's README claim).

import Synchronization
import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("peer conformance")
struct PeerConformanceTests {
    // MARK: join (rayon-core join/test.rs)

    @Test("rayon join::panic_b_still_executes: when a throws, b still runs before the error returns")
    func joinErrorStillRunsB() throws {
        let pool = try ThreadPool(threads: 2)
        let ranB = Flag()
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in throw .left },
                { @Sendable () throws(TestError) -> Int in
                    ranB.set(); return 2
                })
            Issue.record("join did not throw")
        } catch {
            #expect(error == .left)
        }
        #expect(ranB.isSet)
        pool.shutdown()
    }

    @Test("rayon join::join_counter: a binary tree of joins counts every leaf exactly once")
    func joinCounter() throws {
        let pool = try ThreadPool(threads: 2)
        let tracker = OnceTracker(count: 1 << 14)
        @Sendable func visit(_ lo: Int, _ hi: Int) {
            if hi - lo == 1 { tracker.mark(lo); return }
            let mid = (lo + hi) / 2
            _ = pool.join({ visit(lo, mid) }, { visit(mid, hi) })
        }
        _ = pool.broadcast { context in if context.index == 0 { visit(0, 1 << 14) } }
        #expect(tracker.missing == 0 && tracker.duplicates == 0 && tracker.total == 1 << 14)
        pool.shutdown()
    }

    @Test("rayon join::join_across_pools (mixed): a join on pool A whose halves join on pool B")
    func joinAcrossPools() throws {
        let a = try ThreadPool(threads: 2), b = try ThreadPool(threads: 2)
        let (x, y) = a.join(
            { b.join({ fibJoin(b, 15) }, { fibJoin(a, 14) }) },
            { a.join({ fibJoin(a, 13) }, { fibJoin(b, 12) }) })
        #expect(x.0 == fibSequential(15) && x.1 == fibSequential(14))
        #expect(y.0 == fibSequential(13) && y.1 == fibSequential(12))
        a.shutdown(); b.shutdown()
    }

    // MARK: scope (rayon-core scope/test.rs)

    @Test("rayon scope::scope_two: two spawns both run before scope returns")
    func scopeTwo() throws {
        let pool = try ThreadPool(threads: 2)
        let counter = Counter()
        pool.scope { s in
            s.spawn { counter.add(1) }
            s.spawn { counter.add(10) }
        }
        #expect(counter.value == 11)
        pool.shutdown()
    }

    @Test("rayon scope::scope_divide_and_conquer: recursive spawns into one scope equal the sequential count")
    func scopeDivideAndConquer() throws {
        let pool = try ThreadPool(threads: 2)
        let counter = Counter()
        @Sendable func divide(_ s: Scope<Never>, _ n: Int) {
            if n <= 1 { counter.add(); return }
            s.spawn { divide(s, n / 2) }
            s.spawn { divide(s, n - n / 2) }
        }
        pool.scope { s in divide(s, 10_000) }
        #expect(counter.value == 10_000)
        pool.shutdown()
    }

    @Test("rayon scope::panic_propagate_nested_scope_spawn: an error in a nested scope's spawn reaches the outer caller")
    func nestedScopeSpawnError() throws {
        let pool = try ThreadPool(threads: 2)
        do throws(TestError) {
            try pool.scope { (outer: Scope<TestError>) throws(TestError) in
                try pool.scope { (inner: Scope<TestError>) throws(TestError) in
                    inner.spawn { () throws(TestError) in throw .boom(3) }
                }
            }
            Issue.record("scope did not throw")
        } catch {
            #expect(error == .boom(3))
        }
        pool.shutdown()
    }

    @Test("rayon scope::panic_propagate_still_execute_1-4: the other spawns run although one throws")
    func scopeErrorStillExecutesOthers() throws {
        let pool = try ThreadPool(threads: 2)
        let ran = Counter()
        do throws(TestError) {
            try pool.scope { (s: Scope<TestError>) throws(TestError) in
                s.spawn { () throws(TestError) in throw .boom(1) }
                for _ in 0..<100 { s.spawn { () throws(TestError) in ran.add() } }
                throw .boom(0)  // the body's own error wins
            }
            Issue.record("scope did not throw")
        } catch {
            #expect(error == .boom(0))
        }
        #expect(ran.value == 100)
        pool.shutdown()
    }

    @Test("rayon scope::mixed_lifetime_scope: spawns capture values of different lifetimes, all intact")
    func mixedLifetimeScope() throws {
        let pool = try ThreadPool(threads: 2)
        let outer = Array(0..<1_000)
        let results = Locked<[Int]>([])
        pool.scope { s in
            for chunk in stride(from: 0, to: outer.count, by: 100) {
                let local = Array(outer[chunk..<chunk + 100])  // lives only in this iteration
                s.spawn { results.withLock { $0.append(local.reduce(0, +)) } }
            }
        }
        #expect(results.snapshot.reduce(0, +) == outer.reduce(0, +))
        #expect(results.snapshot.count == 10)
        pool.shutdown()
    }

    // MARK: spawn (rayon-core spawn/test.rs)

    @Test("rayon spawn::spawn_then_join_in_worker / _outside_worker: a submitted task's value comes back either way")
    func spawnThenJoin() throws {
        let pool = try ThreadPool(threads: 2)
        let outside = try pool.submit { 22 }
        #expect(try outside.wait() == 22)
        let inside = try pool.install { () throws -> Int in try pool.submit { 23 }.wait() }
        #expect(inside == 23)
        pool.shutdown()
    }

    @Test("rayon spawn::panic_fwd: an error thrown by a task reaches whoever waits on it")
    func spawnErrorForwarded() throws {
        let pool = try ThreadPool(threads: 2)
        let handle = try pool.submit { () throws -> Int in throw TestError.boom(9) }
        #expect(throws: TestError.boom(9)) { try handle.wait() }
        pool.shutdown()
    }

    @Test("rayon spawn::termination_while_things_are_executing: shutdown() waits for running and queued spawns")
    func terminationWhileExecuting() throws {
        let pool = try ThreadPool(threads: 2)
        let started = TestSemaphore(), ran = Counter()
        for _ in 0..<2 {
            try pool.spawn {
                started.signal()
                _ = fibSequential(20)
                ran.add()
            }
        }
        for _ in 0..<50 { try pool.spawn { ran.add() } }
        started.wait()
        pool.shutdown()
        #expect(ran.value == 52)
    }

    // MARK: broadcast (rayon-core broadcast/test.rs)

    @Test("rayon broadcast::broadcast_self: a broadcast from a worker of the same pool")
    func broadcastSelf() throws {
        let pool = try ThreadPool(threads: 3)
        #expect(pool.broadcast { _ in pool.broadcast { $0.index } } == [[0, 1, 2], [0, 1, 2], [0, 1, 2]])
        pool.shutdown()
    }

    @Test("rayon broadcast::broadcast_mutual: pools broadcasting into each other's workers")
    func broadcastMutual() throws {
        let a = try ThreadPool(threads: 2), b = try ThreadPool(threads: 3)
        let count = Counter()
        _ = a.broadcast { _ in
            _ = b.broadcast { _ in count.add() }
        }
        #expect(count.value == 6)
        a.shutdown(); b.shutdown()
    }

    @Test("rayon broadcast::broadcast_after_spawn_broadcast: broadcasts run after earlier spawnBroadcasts are queued")
    func broadcastAfterSpawnBroadcast() throws {
        let pool = try ThreadPool(threads: 2)
        let handle = try pool.spawnBroadcast { $0.index * 10 }
        #expect(pool.broadcast { $0.index } == [0, 1])
        #expect(try handle.wait() == [0, 10])
        pool.shutdown()
    }

    // MARK: thread pool (rayon-core thread_pool/test.rs)

    @Test("rayon thread_pool::workers_stop: after shutdown() every worker thread has exited")
    func workersStop() throws {
        let pool = try ThreadPool(threads: 3)
        #expect(fibJoin(pool, 18) == fibSequential(18))
        pool.shutdown()
        #expect(pool.isShutDown)
        #expect(pool.registry.isShutdownFinished)
        #expect(pool.registry.lifecycleLock.withLock { pool.registry.lifecycle.liveWorkers } == 0)
    }

    @Test("rayon thread_pool::self_install: install on the pool the caller already runs on runs in place")
    func selfInstall() throws {
        let pool = try ThreadPool(threads: 2)
        // Started on each worker (a broadcast part): install from outside runs on the caller.
        let pairs = pool.broadcast { _ in [pool.currentThreadIndex, pool.install { pool.currentThreadIndex }] }
        #expect(pairs == [[0, 0], [1, 1]])
        pool.shutdown()
    }

    @Test("rayon thread_pool::mutual_install: pools installing into each other do not deadlock")
    func mutualInstall() throws {
        let a = try ThreadPool(threads: 1), b = try ThreadPool(threads: 1)
        let finished = completes(within: 60, "mutual install") {
            let value = a.install { b.install { a.install { fibJoin(a, 15) } } }
            #expect(value == fibSequential(15))
        }
        #expect(finished)
        a.shutdown(); b.shutdown()
    }

    @Test("rayon thread_pool::scope_lifo_order: a worker runs its own scope's spawns newest first")
    func scopeLifoOrder() throws {
        let pool = try ThreadPool(threads: 1)
        let order = Locked<[Int]>([])
        // A spawnBroadcast part: its waiter does not help (a broadcast's outside caller would
        // take the oldest spawns of the call from the deque's other end).
        _ = try pool.spawnBroadcast { _ in
            pool.scope { s in
                for i in 0..<10 { s.spawn { order.withLock { $0.append(i) } } }
            }
        }.wait()
        #expect(order.snapshot == Array((0..<10).reversed()))
        pool.shutdown()
    }

    @Test("rayon thread_pool::yield_local_to_spawn: yieldLocal runs a spawn of the same worker")
    func yieldLocalToSpawn() throws {
        let pool = try ThreadPool(threads: 1)
        let ran = Flag()
        // A spawnBroadcast part, whose waiter does not help (see scopeLifoOrder).
        let outcome = try pool.spawnBroadcast { _ -> ThreadPool.YieldOutcome in
            var outcome = ThreadPool.YieldOutcome.noJobWaiting
            pool.scope { s in
                s.spawn { ran.set() }
                outcome = ThreadPool.yieldLocal()
            }
            return outcome
        }.wait()
        #expect(outcome == [.ranJob])
        #expect(ran.isSet)
        #expect(ThreadPool.yieldLocal() == .notOnWorker)
        pool.shutdown()
    }

    // MARK: micropool's README claims

    @Test("micropool: an outside caller helps with its own join instead of idling")
    func outsideCallerHelps() throws {
        let pool = try ThreadPool(threads: 1)
        let gate = TestSemaphore()
        try pool.spawn { gate.wait() }  // the only worker is busy
        let finished = completes(within: 60, "a join from outside while every worker is busy") {
            let (a, b) = pool.join({ fibJoin(pool, 12) }, { fibJoin(pool, 11) })
            #expect(a == fibSequential(12) && b == fibSequential(11))
        }
        #expect(finished)
        gate.signal()
        pool.shutdown()
    }

    @Test("micropool: a blocked caller never runs unrelated background work")
    func blockedCallerRunsNoBackgroundWork() throws {
        let pool = try ThreadPool(threads: 2)
        let callerThread = Locked<pthread_t?>(nil)
        let backgroundOnCaller = Counter()
        let takeB = TestSemaphore(), finishB = TestSemaphore()
        let finished = completes(within: 60, "an outside join that waits for a stolen half") {
            callerThread.withLock { $0 = pthread_self() }
            _ = pool.join(
                { () -> Int in
                    takeB.wait()  // a worker has started b
                    // Queue background work while this caller will soon be waiting for b.
                    for _ in 0..<20 {
                        try? pool.spawn {
                            if let caller = callerThread.snapshot, pthread_equal(caller, pthread_self()) != 0 {
                                backgroundOnCaller.add()
                            }
                        }
                    }
                    finishB.signal()
                    return 1
                },
                { @Sendable () -> Int in
                    takeB.signal()
                    finishB.wait()
                    return 2
                })
        }
        #expect(finished)
        pool.shutdown()
        #expect(backgroundOnCaller.value == 0)
    }
}
