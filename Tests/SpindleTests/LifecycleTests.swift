import Synchronization
import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates a pool, queues `count` background jobs and drops the pool (its last reference).
private func queueAndDrop(count: Int, counter: Counter) throws {
    let pool = try ThreadPool(threads: 2)
    for _ in 0..<count {
        try pool.spawn {
            _ = fibSequential(8)
            counter.add()
        }
    }
}

@Suite("lifecycle")
struct LifecycleTests {
    @Test("spawn and submit after shutdown() throw .shutDown")
    func refusedAfterShutdown() throws {
        let pool = try ThreadPool(threads: 2)
        #expect(!pool.isShutDown)
        pool.shutdown()
        #expect(pool.isShutDown)
        #expect(throws: ThreadPoolError.shutDown) { try pool.spawn {} }
        #expect(throws: ThreadPoolError.shutDown) { _ = try pool.submit { 1 } }
        let text = String(describing: ThreadPoolError.shutDown)
        #expect(text.contains("shut down"))
    }

    @Test("an admission refused while the pool closes already finds the pool shut down")
    func refusedAdmissionSeesShutdown() throws {
        // A thread admits (and leaves) in a loop while the pool closes: the closer waits for
        // its admissions in flight, which widens the moment between the gate and the flags.
        let violations = Counter()
        for _ in 0..<(isSanitizerRun ? 10 : 200) {
            let pool = try ThreadPool(threads: 1)
            let started = TestSemaphore()
            let admitter = TestThread.start {
                started.signal()
                while true {
                    if pool.registry.admissionGate.enter() {
                        pool.registry.admissionGate.leave()
                        continue
                    }
                    if !pool.isShutDown { violations.add() }  // what a refused job's code would see
                    return
                }
            }
            started.wait()
            pool.shutdown()
            admitter.join()
        }
        #expect(violations.value == 0)
    }

    @Test("shutdown() is idempotent, also from several threads at once")
    func shutdownIsIdempotent() throws {
        let pool = try ThreadPool(threads: 3)
        let counter = Counter()
        for _ in 0..<100 { try pool.spawn { counter.add() } }
        completes("concurrent shutdowns") {
            runOnThreads(4) { _ in pool.shutdown() }
        }
        pool.shutdown()
        #expect(pool.isShutDown)
        #expect(counter.value == 100)
    }

    @Test("shutdown() runs all queued background work before it returns")
    func shutdownRunsQueuedWork() throws {
        let pool = try ThreadPool(threads: 1)
        let started = TestSemaphore()
        let release = TestSemaphore()
        let ran = Counter()
        let lateSpawn = Locked<ThreadPoolError?>(nil)
        try pool.spawn {
            started.signal()
            release.wait()
            ran.add()
            // The pool is shut down by now: new work is refused even from a worker.
            do throws(ThreadPoolError) {
                try pool.spawn {}
            } catch {
                lateSpawn.withLock { $0 = error }
            }
        }
        started.wait()
        for _ in 0..<1_000 { try pool.spawn { ran.add() } }
        // Unblock the worker only once shutdown() has begun, so that all 1 000 jobs are still
        // queued when it does.
        let releaser = TestThread.start {
            _ = waitUntil { pool.isShutDown }
            release.signal()
        }
        pool.shutdown()
        releaser.join()
        #expect(ran.value == 1_001)
        #expect(lateSpawn.snapshot == .shutDown)
    }

    @Test("shutdown() with several workers runs every queued task and submitted handle")
    func shutdownRunsQueuedTasks() throws {
        let pool = try ThreadPool(threads: 3)
        let counter = Counter()
        let handles = try (0..<300).map { i in
            try pool.submit { () -> Int in
                counter.add()
                return i
            }
        }
        pool.shutdown()
        #expect(counter.value == 300)
        #expect(handles.allSatisfy { $0.isComplete })
        for (i, handle) in handles.enumerated() {
            #expect(try handle.wait() == i)
        }
    }

    @Test("dropping the last reference to a pool runs its queued work")
    func dropRunsQueuedWork() throws {
        let counter = Counter()
        try queueAndDrop(count: 500, counter: counter)
        #expect(counter.value == 500)
    }

    @Test("the last reference dropped on one of the pool's own workers shuts it down")
    func dropOnWorker() throws {
        var pool: ThreadPool? = try ThreadPool(threads: 2)
        weak let weakPool = pool
        let gate = TestSemaphore()
        let ran = Flag()
        try pool?.spawn { [pool] in
            gate.wait()
            if pool?.threadCount == 2 { ran.set() }
        }
        pool = nil  // the task now holds the last reference
        gate.signal()
        #expect(waitUntil { weakPool == nil })
        #expect(ran.isSet)
    }

    @Test("shutdown() called from a worker of the pool returns")
    func shutdownFromWorker() throws {
        let pool = try ThreadPool(threads: 2)
        let done = TestSemaphore()
        try pool.spawn {
            pool.shutdown()
            done.signal()
        }
        let finished = completes("shutdown from a worker") { done.wait() }
        #expect(finished)
        #expect(pool.isShutDown)
        #expect(throws: ThreadPoolError.shutDown) { try pool.spawn {} }
    }

    @Test("join, scope and install keep working after shutdown, on the caller")
    func foregroundAfterShutdown() throws {
        let pool = try ThreadPool(threads: 2)
        pool.shutdown()
        #expect(fibJoin(pool, 16) == fibSequential(16))
        let counter = Counter()
        pool.scope { s in
            for _ in 0..<100 { s.spawn { counter.add() } }
        }
        #expect(counter.value == 100)
        #expect(pool.install { fibJoin(pool, 12) } == fibSequential(12))
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in 1 },
                { @Sendable () throws(TestError) -> Int in throw .right })
            Issue.record("join did not throw")
        } catch {
            #expect(error == .right)
        }
    }

    #if os(Linux)
        @Test("worker threads exit after shutdown()")
        func threadsExitAfterShutdown() throws {
            let prefix = "exitt-"
            let pool = try ThreadPool(configuration: .init(threads: 2, threadNamePrefix: prefix))
            #expect(fibJoin(pool, 12) == fibSequential(12))
            #expect(waitUntil { procThreads(prefix: prefix).count == 3 })
            pool.shutdown()
            #expect(waitUntil { procThreads(prefix: prefix).isEmpty }, "\(procThreads(prefix: prefix).map(\.name))")
        }
    #endif
}

extension LifecycleTests {
    @Test("shutdown() from a stolen second closure of a join does not deadlock")
    func shutdownFromStolenClosure() throws {
        let pool = try ThreadPool(threads: 2)
        let finished = completes(within: 60, "a join whose stolen closure shuts the pool down") {
            let started = Flag()
            let (a, b) = pool.install {
                pool.join(
                    { () -> Int in
                        // Keep making join points until a worker took the second closure.
                        while !started.isSet { _ = pool.join({ 0 }, { 0 }) }
                        return 1
                    },
                    { () -> Int in
                        started.set()
                        pool.shutdown()
                        return 2
                    })
            }
            #expect(a == 1 && b == 2)
        }
        #expect(finished)
        #expect(pool.isShutDown)
    }

    @Test("shutdown() from a background job of the same pool returns, and the pool winds down")
    func shutdownFromJob() throws {
        let pool = try ThreadPool(threads: 2)
        let ran = Counter()
        let done = TestSemaphore()
        for _ in 0..<50 { try pool.spawn { _ = ran.add() } }
        try pool.spawn {
            pool.shutdown()
            done.signal()
        }
        #expect(done.wait(timeoutSeconds: 60))
        // A second shutdown from outside waits for the workers, so every accepted job has run.
        #expect(completes(within: 60, "shutdown from outside after one from inside") { pool.shutdown() })
        #expect(waitUntil { ran.value == 50 })
        #expect(throws: ThreadPoolError.shutDown) { try pool.spawn {} }
    }

    @Test("concurrent shutdown() calls from outside all return after every queued job ran")
    func concurrentShutdownWaits() throws {
        let pool = try ThreadPool(threads: 1)
        let gate = TestSemaphore()
        let ran = Counter()
        try pool.spawn { gate.wait() }
        for _ in 0..<200 { try pool.spawn { _ = ran.add() } }
        let returned = Counter()
        let observedAtReturn = Locked<[Int]>([])
        let finished = completes(within: 60, "three concurrent shutdowns") {
            runOnThreads(3) { t in
                if t == 0 {
                    // Open the gate once some shutdown has closed admission (the others may be
                    // waiting in theirs by then, or not yet: both must hold).
                    while !pool.isShutDown { yieldThread() }
                    gate.signal()
                }
                pool.shutdown()
                observedAtReturn.withLock { $0.append(ran.value) }
                _ = returned.add()
            }
        }
        #expect(finished)
        #expect(returned.value == 3)
        #expect(observedAtReturn.snapshot == [200, 200, 200])
    }
}

#if os(Linux)
    @Suite("idle pool", .serialized)
    struct IdlePoolTests {
        @Test("an idle pool parks: every worker and the heartbeat wait without a timeout")
        func idlePoolParks() throws {
            // A short prefix: Linux truncates thread names to 15 characters ("idlt-heartbeat" fits).
            let prefix = "idlt-"
            let pool = try ThreadPool(configuration: .init(threads: 2, threadNamePrefix: prefix))
            // Keep the threads busy first, so that they must go back to sleep.
            #expect(fibJoin(pool, 18) == fibSequential(18))
            #expect(pool.broadcast { $0.index } == [0, 1])
            #expect(try pool.submit { 1 }.wait() == 1)
            let names = Set(procThreads(prefix: prefix).map(\.name))
            #expect(names == ["idlt-0", "idlt-1", "idlt-heartbeat"], "threads found: \(names.sorted())")
            // A thread blocked without a timeout uses no CPU until woken, and only published work
            // or a hungry participant wakes these: so an idle pool costs nothing. (Waits for the
            // state, not for a time.)
            let registry = pool.registry
            let parked = waitUntil { registry.sleep.sleepingCount == 2 && registry.heartbeat.isWaitingUntimed }
            #expect(parked, "sleeping workers: \(registry.sleep.sleepingCount), heartbeat untimed: \(registry.heartbeat.isWaitingUntimed)")
            pool.shutdown()
        }
    }

    @Test("a parked worker woken for a background job starts it without waking the heartbeat thread")
    func wakeForAJobSkipsTheHeartbeat() throws {
        let pool = try ThreadPool(threads: 1)
        defer { pool.shutdown() }
        let registry = pool.registry
        for _ in 0..<5 {
            let parked = waitUntil { registry.sleep.sleepingCount == 1 && registry.heartbeat.isWaitingUntimed }
            #expect(parked)
            // Nobody is hungry (the test thread waits on a semaphore, outside the pool): the
            // woken worker counts as awake, finds the job at once, and nothing can tick yet.
            let wakesBefore = registry.heartbeat.transitionWakeCount
            let wakesAtStart = Locked<Int?>(nil)
            let done = TestSemaphore()
            try pool.spawn {
                wakesAtStart.withLock { $0 = registry.heartbeat.transitionWakeCount }
                done.signal()
            }
            done.wait()
            #expect(wakesAtStart.withLock { $0 } == wakesBefore)
        }
    }

    @Test("a parallel loop started while every worker sleeps wakes one: its first item can wait for its second")
    func loopFromOutsideWakesASleeper() throws {
        // A short spin: the workers park soon after each round (under the sanitizers too).
        let pool = try ThreadPool(configuration: .init(threads: 2, spinBeforeSleep: 16))
        defer { pool.shutdown() }
        let registry = pool.registry
        for _ in 0..<3 {
            let parked = waitUntil { registry.sleep.sleepingCount == 2 && registry.heartbeat.isWaitingUntimed }
            #expect(parked)
            // Nobody is hungry, so no heartbeat comes to split the range: only a split at the
            // start lets another thread run item 1 while this thread waits in item 0. (Before
            // the split, item 0 waited out its timeout here, and item 1 ran after it.)
            #expect(firstItemSeesTheSecond(on: pool))
        }
    }

    @Test("a parallel loop on a worker whose peer sleeps wakes the peer: its first item can wait for its second")
    func loopOnAWorkerWakesItsPeer() throws {
        // A short spin: the workers park soon after each round (under the sanitizers too).
        let pool = try ThreadPool(configuration: .init(threads: 2, spinBeforeSleep: 16))
        defer { pool.shutdown() }
        let registry = pool.registry
        for _ in 0..<3 {
            let parked = waitUntil { registry.sleep.sleepingCount == 2 && registry.heartbeat.isWaitingUntimed }
            #expect(parked)
            // Spawned, not submitted: `wait()` could run a submitted task on this thread.
            let firstSawSecond = Flag()
            let onWorker = Flag()
            let done = TestSemaphore()
            try pool.spawn {
                if ThreadPool.currentThreadIndex != nil { onWorker.set() }
                // Once the peer is parked and the heartbeat waits untimed, no beat can come; a
                // flag left by the beat before this worker parked is cleared, so only the split
                // at the loop's start can feed the peer.
                _ = waitUntil { registry.sleep.sleepingCount == 1 && registry.heartbeat.isWaitingUntimed }
                Participant.current?.pointee.heartbeat.store(false, ordering: .relaxed)
                if firstItemSeesTheSecond(on: pool) { firstSawSecond.set() }
                done.signal()
            }
            done.wait()
            #expect(onWorker.isSet)
            #expect(firstSawSecond.isSet)
        }
    }

    @Test("a lone worker that spins between jobs never wakes the heartbeat thread: a beat could feed nobody")
    func loneSpinnerSkipsTheHeartbeat() throws {
        // After each job the worker searches, finds nothing and spins, while it is the only
        // active participant (the test thread waits on a semaphore, outside the pool). An
        // older rule woke the heartbeat then, once per job.
        try expectNoHeartbeatWake(threads: 1) { pool in
            let done = TestSemaphore()
            try pool.spawn { done.signal() }
            done.wait()
        }
    }

    @Test("two workers spinning side by side between jobs never wake the heartbeat thread: spinners ask for their own beats")
    func spinnersSkipTheHeartbeat() throws {
        // Two jobs that meet: both workers are awake at once, and after the jobs both search
        // and spin. The rule before this test woke the heartbeat thread then (a hungry spinner
        // beside another awake participant), about once per round.
        try expectNoHeartbeatWake(threads: 2) { pool in
            let arrived = Counter()
            let done = TestSemaphore()
            for _ in 0..<2 {
                try pool.spawn {
                    arrived.add()
                    _ = waitUntil { arrived.value == 2 }
                    done.signal()
                }
            }
            done.wait()
            done.wait()
            #expect(arrived.value == 2)
        }
    }

    @Test("a caller parked on a stolen join wakes the heartbeat thread: parked, it cannot ask for its beats")
    func parkedWaiterWakesTheHeartbeat() throws {
        // A one-round spin: the caller parks almost at once while it waits.
        let pool = try ThreadPool(configuration: .init(threads: 2, spinBeforeSleep: 1))
        defer { pool.shutdown() }
        let heartbeat = pool.registry.heartbeat
        let wakesBefore = heartbeat.transitionWakeCount
        let secondStarted = Flag()
        let sawWake = Flag()
        // The first branch waits until the second has started elsewhere (it was stolen); the
        // caller then waits for it, parks, and its park must wake the heartbeat thread, which
        // the stolen branch watches for (bounded waits: liveness guards, not timing).
        _ = pool.join(
            { _ = waitUntil(seconds: 10) { secondStarted.isSet } },
            {
                secondStarted.set()
                if waitUntil(seconds: 10, { heartbeat.transitionWakeCount > wakesBefore }) { sawWake.set() }
            })
        #expect(secondStarted.isSet)
        #expect(sawWake.isSet, "the parked caller never woke the heartbeat thread")
    }

    // MARK: - /proc helpers

    /// One thread of this process, from `/proc/self/task/<tid>/{comm,stat}`.
    struct ProcThread {
        let tid: Int
        let name: String
        /// utime + stime, in clock ticks.
        let cpuTicks: Int
    }

    func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The threads of this process whose name starts with `prefix`.
    func procThreads(prefix: String) -> [ProcThread] {
        guard let directory = opendir("/proc/self/task") else { return [] }
        defer { closedir(directory) }
        var result: [ProcThread] = []
        while let entry = readdir(directory) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let tid = Int(entryName) else { continue }  // skips "." and ".."
            // A thread may exit between the listing and the reads: skip it then.
            guard let comm = readProcFile("/proc/self/task/\(tid)/comm"),
                let stat = readProcFile("/proc/self/task/\(tid)/stat")
            else { continue }
            let name = comm.hasSuffix("\n") ? String(comm.dropLast()) : comm
            guard name.hasPrefix(prefix) else { continue }
            // The name in `stat` is parenthesised and may hold spaces: parse after the last ")".
            guard let paren = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: paren)...].split(separator: " ")
            // fields[0] is field 3 (state); utime is field 14, stime field 15.
            guard fields.count > 12, let utime = Int(fields[11]), let stime = Int(fields[12]) else { continue }
            result.append(ProcThread(tid: tid, name: name, cpuTicks: utime + stime))
        }
        return result
    }
#endif

/// A 2-item loop on `pool` whose first item waits (up to 60 s) for the second: whether it
/// saw it run. Only another thread can run item 1 while item 0 waits.
func firstItemSeesTheSecond(on pool: ThreadPool) -> Bool {
    let secondRan = TestSemaphore()
    let firstSawSecond = Flag()
    (0..<2).parallel(on: pool).forEach { i in
        if i == 0 {
            if secondRan.wait(timeoutSeconds: 60) { firstSawSecond.set() }
        } else {
            secondRan.signal()
        }
    }
    return firstSawSecond.isSet
}

/// Runs `round` 20 times on a fresh pool of `threads` workers, then expects the pool to calm
/// down (every worker parked, the heartbeat thread in its untimed wait) without the heartbeat
/// thread ever having been woken.
func expectNoHeartbeatWake(threads: Int, _ round: (ThreadPool) throws -> Void) throws {
    let pool = try ThreadPool(threads: threads)
    defer { pool.shutdown() }
    let heartbeat = pool.registry.heartbeat
    let wakesBefore = heartbeat.transitionWakeCount
    for _ in 0..<20 { try round(pool) }
    // The last search ends in a park; the heartbeat thread (started asynchronously) waits.
    let calm = waitUntil { pool.registry.sleep.sleepingCount == threads && heartbeat.isWaitingUntimed }
    #expect(calm)
    #expect(heartbeat.transitionWakeCount == wakesBefore)
}
