// Regression tests for the data-loss and lifecycle bugs found from outside (issue "Nothing lost,
// ever"): each failed (or deadlocked) on the code before the lifecycle state machine.

import Synchronization
import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("nothing lost")
struct NothingLostTests {
    // MARK: 1. A throwing comparator never loses elements

    /// A permutation of `0..<n` in a random order (fixed seed).
    static func shuffled(_ n: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        return Array(0..<n).shuffled(using: &rng)
    }

    @Test("parallelSort(by:) keeps every element when the comparator throws in any phase")
    func sortThrowKeepsPermutation() throws {
        // Several pieces of the sequential sort (65,536 at most), then parallel merges; smaller
        // under the sanitizers, where each comparison is slow.
        let n = isSanitizerRun ? 100_000 : 200_000
        let pool = try ThreadPool(threads: 2)
        // Count the comparisons of a whole sort; the last ~12% are the merge phase.
        let calls = Counter()
        var probe = Self.shuffled(n, seed: 7)
        probe.parallelSort(
            on: pool,
            by: { @Sendable (a: Int, b: Int) -> Bool in
                calls.add(); return a < b
            })
        #expect(probe == Array(0..<n))
        let total = calls.value
        // Throws early, midway and late in the pieces' sort, then early and late in the merges;
        // under the sanitizers one of each phase (the test is the longest of their runs).
        let fractions = isSanitizerRun ? [0.0, 0.6, 0.93, 0.995] : [0.0, 0.3, 0.6, 0.88, 0.93, 0.97, 0.995]
        for fraction in fractions {
            let throwAt = max(1, Int(Double(total) * fraction))
            let seen = Counter()
            var data = Self.shuffled(n, seed: 7)
            do throws(TestError) {
                try data.parallelSort(
                    on: pool,
                    by: { @Sendable (a: Int, b: Int) throws(TestError) -> Bool in
                        if seen.add() == throwAt { throw .boom(throwAt) }
                        return a < b
                    })
                Issue.record("the sort did not throw at comparison \(throwAt) of about \(total)")
            } catch {
                #expect(error == .boom(throwAt))
            }
            #expect(data.count == n)
            let distinct = Set(data).count
            let intact = data.sorted() == Array(0..<n)
            #expect(intact, "\(n - distinct) elements lost (overwritten by duplicates) after a throw at comparison \(throwAt) of \(total)")
        }
        pool.shutdown()
    }

    // MARK: 2. shutdown() from outside waits, even after one from inside

    @Test("shutdown() from outside after one from inside returns only once queued work has run")
    func outsideShutdownAfterInsideShutdown() throws {
        let pool = try ThreadPool(threads: 1)
        let gate = TestSemaphore()
        let release = TestSemaphore()
        let insideReturned = TestSemaphore()
        let ran = Counter()
        try pool.spawn { gate.wait() }
        try pool.spawn {
            pool.shutdown()  // from inside: closes the pool and returns
            insideReturned.signal()
        }
        for _ in 0..<19 {
            try pool.spawn {
                release.wait()
                ran.add()
            }
        }
        gate.signal()
        insideReturned.wait()
        let observedAtReturn = Counter(-1)
        let returned = TestSemaphore()
        let outside = TestThread.start {
            pool.shutdown()
            observedAtReturn.store(ran.value)
            returned.signal()
        }
        // The 19 jobs cannot finish before `release` is signalled, so a correct shutdown() cannot
        // return within this bounded wait; the old one returned at once (with 0 of 19 run).
        let returnedEarly = returned.wait(timeoutSeconds: 0.3)
        release.signal(19)
        if !returnedEarly { returned.wait() }
        outside.join()
        #expect(!returnedEarly)
        #expect(observedAtReturn.value == 19)
    }

    @Test("deinit after a shutdown from inside also waits for the queued work")
    func dropAfterInsideShutdown() throws {
        var pool: ThreadPool? = try ThreadPool(threads: 1)
        let ran = Counter()
        let insideReturned = TestSemaphore()
        let gate = TestSemaphore()
        try pool!.spawn { [pool] in
            gate.wait()
            pool!.shutdown()
            insideReturned.signal()
        }
        for _ in 0..<20 { try pool!.spawn { ran.add() } }
        gate.signal()
        insideReturned.wait()
        // The job's closure, and with it its reference, is released once it has run: keep
        // asking until this reference is the last one and its release runs `deinit` here.
        weak let weakPool = pool
        pool = nil
        #expect(waitUntil { weakPool == nil })
        #expect(waitUntil { ran.value == 20 })
    }

    // MARK: 3. Resizes from inside never wait for the caller's own thread

    @Test("resize(threads: 1) then resize(threads: 3) from a job on worker 2 completes")
    func shrinkThenGrowFromRetiredWorker() throws {
        let pool = try ThreadPool(threads: 3)
        let errors = Locked<[ThreadPoolError]>([])
        let finished = completes(within: 60, "a shrink and a grow from worker 2") {
            _ = pool.broadcast { context in
                guard context.index == 2 else { return }
                do throws(ThreadPoolError) {
                    try pool.resize(threads: 1)
                    try pool.resize(threads: 3)
                } catch {
                    errors.withLock { $0.append(error) }
                }
            }
        }
        #expect(finished)
        guard finished else { return }
        #expect(errors.snapshot.isEmpty)
        #expect(pool.threadCount == 3)
        #expect(pool.broadcast { $0.index } == [0, 1, 2])
        #expect(fibJoin(pool, 18) == fibSequential(18))
        pool.shutdown()
    }

    @Test("a grow from outside cancels a retirement another outside resize is waiting for")
    func growCancelsPendingRetirement() throws {
        let pool = try ThreadPool(threads: 2)
        let gate = TestSemaphore()
        let started = TestSemaphore()
        let parts = try pool.spawnBroadcast { context in
            if context.index == 1 {
                started.signal()
                gate.wait()
            }
            return context.index
        }
        started.wait()
        let shrinker = TestThread.start { try? pool.resize(threads: 1) }  // waits for worker 1
        #expect(waitUntil { pool.threadCount == 1 })  // the shrink is applied; its caller waits
        let grew = completes(within: 60, "a grow while a shrink waits for a busy worker") {
            try? pool.resize(threads: 2)
        }
        #expect(pool.threadCount == 2)
        gate.signal()
        shrinker.join()
        #expect(grew)
        #expect(try parts.wait() == [0, 1])
        pool.shutdown()
    }

    // MARK: 4. A scope's spawned closures are released before it returns

    /// Records, when it is freed, whether the scope had already returned.
    final class ScopeCapture: Sendable {
        let scopeReturned: Flag
        let freedAfterReturn: Flag
        let freed: Flag
        init(scopeReturned: Flag, freedAfterReturn: Flag, freed: Flag) {
            self.scopeReturned = scopeReturned
            self.freedAfterReturn = freedAfterReturn
            self.freed = freed
        }
        deinit {
            // A release that comes after the scope's end sees `scopeReturned` within this bound;
            // one that comes before it (the fix) cannot, since the scope waits for it.
            _ = waitUntil(seconds: 0.3) { scopeReturned.isSet }
            if scopeReturned.isSet { freedAfterReturn.set() }
            freed.set()
        }
    }

    @Test("scope-spawned closures and their captures are freed before scope returns", arguments: [false, true])
    func spawnedClosuresFreedBeforeReturn(fromWorker: Bool) throws {
        let pool = try ThreadPool(threads: 2)
        let scopeReturned = Flag(), freedAfterReturn = Flag(), freed = Flag()
        let body: @Sendable () -> Void = {
            var capture: ScopeCapture? = ScopeCapture(scopeReturned: scopeReturned, freedAfterReturn: freedAfterReturn, freed: freed)
            let started = TestSemaphore()
            pool.scope { s in
                s.spawn { [capture] in
                    _ = capture
                    started.signal()
                }
                capture = nil  // the spawned closure holds the only reference now
                // The owner does not help until the closure has started, so a worker runs it.
                started.wait()
            }
            scopeReturned.set()
        }
        if fromWorker {
            // On worker 0 (a spawnBroadcast part; `install` from outside would run on this thread).
            _ = try pool.spawnBroadcast { context in if context.index == 0 { body() } }.wait()
        } else {
            body()
        }
        #expect(waitUntil { freed.isSet })
        #expect(!freedAfterReturn.isSet, "a spawned closure's capture was freed after scope returned")
        pool.shutdown()
    }

    // MARK: 5–6. Clear failures instead of invented behaviour

    @Test("broadcast on a shut-down pool stops with a precondition failure")
    func broadcastAfterShutdown() async {
        await #expect(processExitsWith: .failure) {
            let pool = try ThreadPool(threads: 2)
            await pool.shutdown()
            _ = pool.broadcast { $0.index }
        }
    }

    @Test("ThreadPool.shared refuses shutdown()")
    func sharedRefusesShutdown() async {
        await #expect(processExitsWith: .failure) {
            await ThreadPool.shared.shutdown()
        }
    }

    @Test("ThreadPool.shared refuses shutdown(gracePeriod:)")
    func sharedRefusesGracefulShutdown() async {
        await #expect(processExitsWith: .failure) {
            _ = await ThreadPool.shared.shutdown(gracePeriod: .seconds(1))
        }
    }

    @Test("ThreadPool.shared refuses resize with a clear error and keeps working")
    func sharedRefusesResize() {
        let width = ThreadPool.shared.threadCount
        #expect(throws: ThreadPoolError.sharedPoolIsPerpetual) { try ThreadPool.shared.resize(threads: width + 1) }
        #expect(ThreadPool.shared.threadCount == width)
        #expect(!ThreadPool.shared.isShutDown)
        #expect(ThreadPool.shared.join({ 1 }, { 2 }) == (1, 2))
    }

    // MARK: 7. Thread names keep their index

    @Test("worker thread names keep the index within the platform's limit")
    func threadNames() {
        #expect(workerThreadName(prefix: "spindle-", index: 3) == "spindle-3")
        #if os(Linux)
            #expect(workerThreadName(prefix: "spindle-shared-", index: 12) == "spindle-share12")
            #expect(workerThreadName(prefix: "a-very-long-prefix-", index: 1234) == "a-very-long1234")
            #expect(workerThreadName(prefix: "ünïcödé-prefix-", index: 7).utf8.count <= 15)
        #endif
    }

    #if os(Linux)
        @Test("the shared pool's threads are named with distinct indices")
        func sharedThreadNames() {
            // A part on every worker: each has started and named itself (names are set before the
            // thread runs anything).
            _ = ThreadPool.shared.broadcast { $0.index }
            let width = ThreadPool.shared.threadCount
            let names = Set(procThreads(prefix: "spindle-sh-").map(\.name)).subtracting(["spindle-sh-hb"])
            #expect(names == Set((0..<width).map { "spindle-sh-\($0)" }), "\(names)")
        }

        @Test("a pool whose prefix is too long still names every thread distinctly")
        func longPrefixNames() throws {
            let pool = try ThreadPool(configuration: .init(threads: 3, threadNamePrefix: "verylongprefix-"))
            _ = pool.broadcast { $0.index }
            let names = Set(procThreads(prefix: "verylongprefix").map(\.name))
            #expect(names.subtracting(["verylongprefhb"]) == ["verylongprefix0", "verylongprefix1", "verylongprefix2"])
            pool.shutdown()
        }
    #endif
}
