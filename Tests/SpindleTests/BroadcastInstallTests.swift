import Synchronization
import Testing
@testable import Spindle

@Suite("broadcast and install")
struct BroadcastInstallTests {
    // MARK: broadcast

    @Test("broadcast runs once on every worker and returns results in index order", arguments: [1, 2, 4])
    func broadcastOncePerWorker(threads: Int) throws {
        let pool = try ThreadPool(threads: threads)
        let runs = OnceTracker(count: threads)
        let mismatches = Counter()
        let results = pool.broadcast { context in
            runs.mark(context.index)
            if context.threadCount != threads { mismatches.add() }
            // Each part runs on the worker whose index it was given.
            if pool.currentThreadIndex != context.index { mismatches.add() }
            if ThreadPool.currentThreadIndex != context.index { mismatches.add() }
            return context.index
        }
        #expect(results == Array(0..<threads))
        #expect(runs.total == threads)
        #expect(runs.duplicates == 0)
        #expect(runs.missing == 0)
        #expect(mismatches.value == 0)
    }

    @Test("repeated broadcasts from several outside threads at once")
    func concurrentBroadcasts() throws {
        let pool = try ThreadPool(threads: 3)
        let wrong = Counter()
        completes("concurrent broadcasts") {
            runOnThreads(4) { _ in
                for _ in 0..<50 {
                    let r = pool.broadcast { context in pool.currentThreadIndex == context.index ? context.index : -1 }
                    if r != [0, 1, 2] { wrong.add() }
                }
            }
        }
        #expect(wrong.value == 0)
    }

    @Test("broadcast called from inside a worker of the same pool")
    func broadcastFromWorker() throws {
        let pool = try ThreadPool(threads: 3)
        let result = Locked<[Int]?>(nil)
        let done = TestSemaphore()
        // From a background task (certainly on a worker: spawn has no inline path).
        try pool.spawn {
            let r = pool.broadcast { $0.index * 10 }
            result.withLock { $0 = r }
            done.signal()
        }
        let finished = completes("broadcast from a task") { done.wait() }
        #expect(finished)
        #expect(result.snapshot == [0, 10, 20])

        // Every worker broadcasting at once, from inside a broadcast.
        let nested = pool.broadcast { outer in
            pool.broadcast { inner in outer.index * 10 + inner.index }
        }
        #expect(nested == [[0, 1, 2], [10, 11, 12], [20, 21, 22]])
    }

    // A worker of one pool that is blocked in a call on another pool takes part there as an
    // outside caller; it must keep serving its own pool's broadcast inbox, or pool A's workers
    // wait for B's workers, which wait for A's.
    @Test("broadcasts of two pools into each other do not deadlock")
    func crossPoolBroadcast() throws {
        let a = try ThreadPool(threads: 2)
        let b = try ThreadPool(threads: 2)
        let results = Locked<[[[Int]]]>([])
        let finished = completes(within: 30, "broadcasts of two pools into each other") {
            runOnThreads(2) { t in
                for _ in 0..<100 {
                    let r =
                        t == 0
                        ? a.broadcast { _ in b.broadcast { $0.index } }
                        : b.broadcast { _ in a.broadcast { $0.index } }
                    results.withLock { $0.append(r) }
                }
            }
        }
        #expect(finished)
        #expect(results.snapshot.allSatisfy { $0 == [[0, 1], [0, 1]] })
    }

    @Test("a worker blocked in another pool's join still runs its own pool's broadcast part")
    func broadcastWhileBlockedInAnotherPool() throws {
        let a = try ThreadPool(threads: 1)
        let b = try ThreadPool(threads: 1)
        let result = Locked<[[Int]]>([])
        let finished = completes(within: 30, "broadcast needing a worker blocked in another pool") {
            let r = b.broadcast { _ in
                let started = Flag()
                let (_, inner) = a.join(
                    { while !started.isSet { _ = a.join({ 0 }, { 0 }) } },
                    {
                        started.set(); return b.broadcast { $0.index }
                    })
                return inner
            }
            result.withLock { $0 = r }
        }
        #expect(finished)
        #expect(result.snapshot == [[0]])
    }

    @Test("broadcast rethrows the first error in worker order after every part has run")
    func broadcastErrors() throws {
        let pool = try ThreadPool(threads: 4)
        let finished = Counter()
        do throws(TestError) {
            _ = try pool.broadcast { (context) throws(TestError) -> Int in
                _ = fibSequential(12)
                finished.add()
                if context.index == 1 || context.index == 3 { throw .boom(context.index) }
                return context.index
            }
            Issue.record("broadcast did not throw")
        } catch {
            #expect(error == .boom(1))
        }
        #expect(finished.value == 4)
        #expect(pool.broadcast { $0.index } == [0, 1, 2, 3])
    }

    @Test("broadcast parts may use join, scope and tasks of the same pool")
    func broadcastDoesForkJoin() throws {
        let pool = try ThreadPool(threads: 2)
        let results = pool.broadcast { context in
            let counter = Counter()
            pool.scope { s in for _ in 0..<100 { s.spawn { counter.add() } } }
            return fibJoin(pool, 14) + counter.value + context.index
        }
        #expect(results == [fibSequential(14) + 100, fibSequential(14) + 101])
    }

    @Test("currentThreadIndex is nil outside every pool and for other pools' workers")
    func currentThreadIndexScoping() throws {
        let a = try ThreadPool(threads: 2)
        let b = try ThreadPool(threads: 2)
        #expect(ThreadPool.currentThreadIndex == nil)
        let seen = a.broadcast { context in
            (a.currentThreadIndex, b.currentThreadIndex, ThreadPool.currentThreadIndex, context.index)
        }
        for (i, entry) in seen.enumerated() {
            #expect(entry.0 == i)
            #expect(entry.1 == nil)
            #expect(entry.2 == i)
            #expect(entry.3 == i)
        }
    }

    // MARK: install

    @Test("install from outside: no worker index inside, and Spindle.join uses that pool")
    func installFromOutside() throws {
        let pool = try ThreadPool(threads: 2)
        let (index, staticIndex, inPool, value) = pool.install {
            let (inPool, value) = Spindle.join(
                {
                    Participant.current(in: pool.registryID) != nil
                },
                { @Sendable () -> (Bool, Int) in
                    // Wherever it runs (the caller or a worker), it runs as part of `pool`.
                    (Participant.current(in: pool.registryID) != nil, fibFreeJoin(14))
                })
            return (pool.currentThreadIndex, ThreadPool.currentThreadIndex, inPool && value.0, value.1)
        }
        #expect(index == nil)
        #expect(staticIndex == nil)
        #expect(inPool, "Spindle.join inside install did not run on the installed pool")
        #expect(value == fibSequential(14))
        // Outside again: no participant of the pool any more.
        #expect(Participant.current(in: pool.registryID) == nil)
    }

    @Test("install returns its body's value and rethrows its typed error")
    func installValueAndError() throws {
        let pool = try ThreadPool(threads: 2)
        #expect(pool.install { 7 * 6 } == 42)
        do throws(TestError) {
            _ = try pool.install { () throws(TestError) -> Int in throw .boom(3) }
            Issue.record("install did not throw")
        } catch {
            #expect(error == .boom(3))
        }
        #expect(pool.install { fibJoin(pool, 15) } == fibSequential(15))
    }

    @Test("install from a worker runs in place and reports that worker's index")
    func installFromWorker() throws {
        let pool = try ThreadPool(threads: 3)
        let pairs = pool.broadcast { context in
            pool.install { (context.index, pool.currentThreadIndex, ThreadPool.currentThreadIndex) }
        }
        #expect(pairs.count == 3)
        for (i, pair) in pairs.enumerated() {
            #expect(pair.0 == i)
            #expect(pair.1 == i)
            #expect(pair.2 == i)
        }
    }
}
