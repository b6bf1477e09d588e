import Synchronization
import Testing
@testable import Spindle

/// Recursion that alternates `join` (even depths) and `scope` (odd depths) down to `depth`, and
/// returns `1 + 2 + … + depth`. The recursive call sits on either side of each join and in a
/// spawned closure of each scope, so nested levels run on whichever thread took that piece.
func nestedJoinScope(_ pool: ThreadPool, _ depth: Int) -> Int {
    if depth == 0 { return 0 }
    if depth % 2 == 0 {
        if depth % 4 == 0 {
            let (below, here) = pool.join({ nestedJoinScope(pool, depth - 1) }, { depth })
            return below + here
        } else {
            let (here, below) = pool.join({ depth }, { nestedJoinScope(pool, depth - 1) })
            return below + here
        }
    }
    let below = Counter()
    let here = Counter()
    pool.scope { s in
        s.spawn { below.add(nestedJoinScope(pool, depth - 1)) }
        s.spawn { here.add(depth) }
    }
    return below.value + here.value
}

/// Like `nestedJoinScope`, but the innermost level throws.
func nestedJoinScopeThrowing(_ pool: ThreadPool, _ depth: Int) throws(TestError) -> Int {
    if depth == 0 { throw .boom(0) }
    if depth % 2 == 0 {
        let (below, here) = try pool.join(
            { () throws(TestError) -> Int in try nestedJoinScopeThrowing(pool, depth - 1) },
            { @Sendable () throws(TestError) -> Int in depth })
        return below + here
    }
    let below = Counter()
    try pool.scope { (s: Scope<TestError>) throws(TestError) in
        s.spawn { () throws(TestError) in below.add(try nestedJoinScopeThrowing(pool, depth - 1)) }
    }
    return below.value + depth
}

/// Spawns a binary tree of closures into one scope: each spawned closure spawns two more until
/// `depth` reaches 0.
func spawnTree(_ scope: Scope<Never>, depth: Int, counter: Counter) {
    counter.add()
    guard depth > 0 else { return }
    scope.spawn { spawnTree(scope, depth: depth - 1, counter: counter) }
    scope.spawn { spawnTree(scope, depth: depth - 1, counter: counter) }
}

@Suite("scope")
struct ScopeTests {
    @Test("Spindle.scope and Spindle.spawn use the current worker's pool, else the shared pool")
    func freeScopeAndSpawn() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        // From a worker of `pool`: every spawn runs on one of its workers (or the caller, its worker).
        let onOwnPool = try onWorker(pool) { () -> Bool in
            let elsewhere = Counter()
            let ran = Counter()
            Spindle.scope { (s: Scope<Never>) in
                for _ in 0..<200 {
                    s.spawn {
                        if pool.currentThreadIndex == nil { elsewhere.add() }
                        ran.add()
                    }
                }
            }
            return ran.value == 200 && elsewhere.value == 0
        }
        #expect(onOwnPool)
        // From an outside thread: the shared pool (or this thread, which takes part).
        let ran = Counter()
        let onShared = Counter()
        try Spindle.scope { (s: Scope<TestError>) throws(TestError) in
            for _ in 0..<50 {
                s.spawn {
                    if pool.currentThreadIndex != nil { onShared.add(1_000) }  // never on `pool`
                    ran.add()
                }
            }
        }
        #expect(ran.value == 50 && onShared.value == 0)
        #expect(throws: TestError.boom(3)) {
            try Spindle.scope { (s: Scope<TestError>) throws(TestError) in
                s.spawn { () throws(TestError) in throw TestError.boom(3) }
            }
        }
        // Free spawn from a worker: a background task of that worker's pool.
        let done = TestSemaphore()
        let spawnedOn = Locked<Int?>(nil)
        try pool.spawn {
            try? Spindle.spawn {
                spawnedOn.withLock { $0 = pool.currentThreadIndex }
                done.signal()
            }
        }
        done.wait()
        #expect(spawnedOn.withLock { $0 } != nil)
    }

    @Test("an empty scope returns the body's value")
    func emptyScope() throws {
        let pool = try ThreadPool(threads: 2)
        let value = pool.scope { _ in 42 }
        #expect(value == 42)
    }

    @Test("a million spawns in one scope each run exactly once")
    func millionSpawns() throws {
        let count = 1_000_000
        let pool = try ThreadPool(threads: 4)
        let tracker = OnceTracker(count: count)
        pool.scope { s in
            for i in 0..<count {
                s.spawn { tracker.mark(i) }
            }
        }
        // The scope has returned: every spawn has run, exactly once.
        #expect(tracker.total == count)
        #expect(tracker.duplicates == 0)
        #expect(tracker.invalid == 0)
        #expect(tracker.missing == 0)
    }

    @Test("spawned closures may spawn more work into the same scope")
    func nestedSpawns() throws {
        let pool = try ThreadPool(threads: 3)
        let counter = Counter()
        pool.scope { s in spawnTree(s, depth: 12, counter: counter) }
        #expect(counter.value == (1 << 13) - 1)
    }

    @Test("a thread outside the pool may spawn into an open scope")
    func spawnFromOutsideThread() throws {
        let pool = try ThreadPool(threads: 2)
        let tracker = OnceTracker(count: 2_000)
        pool.scope { s in
            let helper = TestThread.start {
                for i in 0..<1_000 { s.spawn { tracker.mark(i) } }
            }
            for i in 1_000..<2_000 { s.spawn { tracker.mark(i) } }
            helper.join()
        }
        #expect(tracker.total == 2_000)
        #expect(tracker.duplicates == 0)
        #expect(tracker.missing == 0)

        // An error thrown by work spawned from that thread reaches the scope's caller too.
        let completed = Counter()
        do throws(TestError) {
            try pool.scope { (s: Scope<TestError>) throws(TestError) in
                let helper = TestThread.start {
                    for i in 0..<100 {
                        s.spawn { () throws(TestError) in
                            completed.add()
                            if i == 42 { throw .boom(42) }
                        }
                    }
                }
                helper.join()
            }
            Issue.record("scope did not throw")
        } catch {
            #expect(error == .boom(42))
        }
        #expect(completed.value == 100)
    }

    @Test("spawns from a worker's scope all run")
    func scopeOnWorkers() throws {
        let pool = try ThreadPool(threads: 3)
        let counter = Counter()
        _ = pool.broadcast { _ in
            pool.scope { s in
                for _ in 0..<1_000 { s.spawn { counter.add() } }
            }
        }
        #expect(counter.value == 3_000)
    }

    @Test("spawned work is taken by workers while the caller works on other spawns")
    func spawnsRunInParallel() throws {
        let pool = try ThreadPool(threads: 2)
        let firstRan = Flag()
        let secondSawFirst = Flag()
        pool.scope { s in
            // The caller takes its own spawns newest first, so it runs the second one first;
            // that one can only finish once a worker has taken the first.
            s.spawn { firstRan.set() }
            s.spawn {
                if waitUntil({ firstRan.isSet }) { secondSawFirst.set() }
            }
        }
        #expect(firstRan.isSet)
        #expect(secondSawFirst.isSet)
    }

    @Test("joins and scopes nested 30 deep give the right result")
    func nestedThirtyDeep() throws {
        let pool = try ThreadPool(threads: 4)
        #expect(nestedJoinScope(pool, 30) == 30 * 31 / 2)
        // The same from the pool's workers.
        let results = pool.broadcast { _ in nestedJoinScope(pool, 30) }
        #expect(results == Array(repeating: 30 * 31 / 2, count: 4))
    }

    @Test("an error thrown 30 levels down through joins and scopes reaches the caller")
    func nestedThirtyDeepThrowing() throws {
        let pool = try ThreadPool(threads: 4)
        #expect(throws: TestError.boom(0)) {
            _ = try nestedJoinScopeThrowing(pool, 30)
        }
        #expect(nestedJoinScope(pool, 30) == 30 * 31 / 2)
    }

    // MARK: Errors

    @Test("scope rethrows a spawned error after all spawned work has finished")
    func rethrowsAfterAllSpawnsFinished() throws {
        let pool = try ThreadPool(threads: 3)
        let completed = Counter()
        let failing: Set<Int> = [7, 57, 107, 157]
        do throws(TestError) {
            try pool.scope { (s: Scope<TestError>) throws(TestError) in
                for i in 0..<200 {
                    s.spawn { () throws(TestError) in
                        _ = fibSequential(10)
                        completed.add()
                        if failing.contains(i) { throw .boom(i) }
                    }
                }
            }
            Issue.record("scope did not throw")
        } catch {
            if case .boom(let i) = error {
                #expect(failing.contains(i))
            } else {
                Issue.record("unexpected error \(error)")
            }
        }
        #expect(completed.value == 200)
        // The pool is still usable.
        let after = Counter()
        pool.scope { s in for _ in 0..<100 { s.spawn { after.add() } } }
        #expect(after.value == 100)
        #expect(fibJoin(pool, 16) == fibSequential(16))
    }

    @Test("scope rethrows the first error thrown by spawned work")
    func rethrowsFirstError() throws {
        // The only worker is blocked, so the caller runs every spawn itself, one at a time, and
        // "first" is well defined.
        let pool = try ThreadPool(threads: 1)
        let started = TestSemaphore()
        let release = TestSemaphore()
        defer { release.signal() }
        try pool.spawn {
            started.signal()
            release.wait()
        }
        started.wait()
        let thrownOrder = Locked<[Int]>([])
        do throws(TestError) {
            try pool.scope { (s: Scope<TestError>) throws(TestError) in
                for i in 0..<10 {
                    s.spawn { () throws(TestError) in
                        thrownOrder.withLock { $0.append(i) }
                        throw .boom(i)
                    }
                }
            }
            Issue.record("scope did not throw")
        } catch {
            let order = thrownOrder.snapshot
            #expect(order.count == 10)
            #expect(error == .boom(order.first ?? -1))
        }
    }

    @Test("an error thrown by the body wins over spawned errors, after spawned work finished")
    func bodyErrorWins() throws {
        let pool = try ThreadPool(threads: 2)
        let completed = Counter()
        do throws(TestError) {
            try pool.scope { (s: Scope<TestError>) throws(TestError) in
                for i in 0..<50 {
                    s.spawn { () throws(TestError) in
                        _ = fibSequential(12)
                        completed.add()
                        throw .boom(i)
                    }
                }
                throw .left
            }
            Issue.record("scope did not throw")
        } catch {
            #expect(error == .left)
        }
        #expect(completed.value == 50)
        #expect(pool.scope { _ in 1 } == 1)
    }

    @Test("spawn on a scope that has returned is a precondition failure")
    func spawnAfterScopeReturned() async {
        await #expect(processExitsWith: .failure) {
            let pool = try ThreadPool(threads: 1)
            let escaped = Locked<Scope<Never>?>(nil)
            pool.scope { s in escaped.withLock { $0 = s } }
            escaped.snapshot?.spawn {}
        }
    }
}
