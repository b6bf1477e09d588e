import Synchronization
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Testing
@testable import Spindle

/// The `maxPending` machinery on its own: the consume-once place token, the waiters' order, a
/// cancellation that lands before its waiter registered, and the error type's matching.
@Suite("admission: pending places and capacity waiters")
struct AdmissionTests {
    @Test("a pending place is given back exactly once, when its token ends")
    func placeGivenBackOnce() {
        let places = PendingPlaces(bound: 2)
        var first = places.take()
        let second = places.take()
        let third = places.take()
        let taken = [first != nil, second != nil, third != nil]
        #expect(taken == [true, true, false], "a third place beyond the bound of 2")
        #expect(places.count == 2)
        first = nil
        #expect(places.count == 1)
        first = nil  // already ended: nothing more goes back
        #expect(places.count == 1)
        second?.giveBack()
        #expect(places.count == 0)
        let unbounded = PendingPlaces(bound: nil)
        for _ in 0..<100 {
            let place = unbounded.take()
            let tookOne = place != nil
            #expect(tookOne && unbounded.count == 1)
        }
        #expect(unbounded.count == 0, "each token gave its place back when it went out of scope")
    }

    @Test("concurrent takes from eight threads never exceed the bound, and every place comes back")
    func concurrentTakesKeepTheBound() {
        let places = PendingPlaces(bound: 5)
        let overBound = Counter()
        let granted = Counter()
        runOnThreads(8) { _ in
            for _ in 0..<20_000 {
                guard let place = places.take() else { continue }
                granted.add()
                if places.count > 5 { overBound.add() }
                place.giveBack()
            }
        }
        #expect(overBound.value == 0)
        #expect(granted.value > 0)
        #expect(places.count == 0)
    }

    @Test("eight threads submitting into maxPending: every accepted task runs once, none beyond the bound waits")
    func concurrentSubmitters() throws {
        let pool = try ThreadPool(configuration: .init(threads: 2, maxPending: 16))
        let perThread = isSanitizerRun ? 500 : 5_000
        let ran = OnceTracker(count: 8 * perThread)
        let refused = Counter()
        let pendingSeen = Counter()
        runOnThreads(8) { t in
            for i in 0..<perThread {
                while true {
                    do {
                        try pool.spawn { ran.mark(t * perThread + i) }
                        if pool.metrics.pendingTasks > 16 { pendingSeen.add() }
                        break
                    } catch {
                        refused.add()
                        sched_yield()
                    }
                }
            }
        }
        pool.shutdown()  // runs everything accepted
        #expect(ran.total == 8 * perThread && ran.duplicates == 0 && ran.missing == 0)
        #expect(pendingSeen.value == 0, "more than maxPending tasks were waiting at once")
    }

    @Test("a shutdown racing with eight submitting threads: every task accepted runs, later ones are refused")
    func shutdownRacingSubmitters() throws {
        for _ in 0..<(isSanitizerRun ? 5 : 50) {
            let pool = try ThreadPool(threads: 2)
            let accepted = Counter()
            let ran = Counter()
            let started = Counter()
            let closer = TestThread.start {
                while started.value < 8 { sched_yield() }
                pool.shutdown()
            }
            runOnThreads(8) { _ in
                started.add()
                for _ in 0..<2_000 {
                    do {
                        try pool.spawn { ran.add() }
                        accepted.add()
                    } catch {
                        #expect(error as? ThreadPoolError == .shutDown)
                        return
                    }
                }
            }
            closer.join()
            pool.shutdown()  // returns once every worker exited: all accepted work has run
            #expect(ran.value == accepted.value, "accepted \(accepted.value), ran \(ran.value)")
        }
    }

    @Test("capacity waiters are resumed oldest first")
    func waitersInOrder() async throws {
        let waiters = CapacityWaiters()
        let resumed = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for k in 0..<4 {
                let id = waiters.makeID()
                group.addTask {
                    let again = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
                        #expect(waiters.register(id, c))
                    }
                    #expect(again == false)
                    resumed.withLock { $0.append(k) }
                }
                // Register k before k + 1 starts: the order under test is the registration order.
                while waiters.waitingCount < k + 1 { await Task.yield() }
            }
            for k in 0..<4 {
                waiters.wakeOne()
                while resumed.withLock({ $0.count }) < k + 1 { await Task.yield() }
            }
            try await group.waitForAll()
        }
        #expect(resumed.snapshot == [0, 1, 2, 3])
        #expect(waiters.isEmpty)
    }

    @Test("a cancellation that lands before its waiter registers makes the registration fail")
    func cancellationBeforeRegistration() async throws {
        let waiters = CapacityWaiters()
        let id = waiters.makeID()
        waiters.cancel(id)  // the cancellation handler ran first: nobody is registered yet
        await #expect(throws: CancellationError.self) {
            _ = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
                if !waiters.register(id, c) { c.resume(throwing: CancellationError()) }
            }
        }
        #expect(waiters.isEmpty)
        // A later id is unaffected, and a woken waiter is resumed normally.
        let next = waiters.makeID()
        let task = Task {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
                #expect(waiters.register(next, c))
            }
        }
        while waiters.waitingCount < 1 { await Task.yield() }
        waiters.wakeOne()
        let again = try await task.value
        #expect(again == false)
    }

    @Test("ThreadPoolError matches by code and by value, and carries its values")
    func errorMatching() throws {
        let pool = try ThreadPool(configuration: .init(threads: 1, maxPending: 1))
        defer { pool.shutdown() }
        let gate = TestSemaphore()
        try pool.spawn { gate.wait() }
        // The worker may not have taken the first job yet: fill the place until refused.
        var refusal: (any Error)?
        for _ in 0..<3 where refusal == nil {
            do { try pool.spawn {} } catch { refusal = error }
        }
        gate.signal()
        let error = try #require(refusal)
        var byCode = false, byValue = false
        do { throw error } catch ThreadPoolError.Code.saturated { byCode = true } catch {}
        do { throw error } catch ThreadPoolError.saturated(maxPending: 1) { byValue = true } catch {}
        #expect(byCode && byValue)
        let typed = try #require(error as? ThreadPoolError)
        #expect(typed.code == .saturated && typed.limit == 1 && typed.rejectedValue == nil)
        #expect(typed.description.contains("maxPending"))
        #expect(ThreadPoolError.invalidThreadCount(0).rejectedValue == 0)
        #expect(ThreadPoolError.invalidThreadCount(0) != ThreadPoolError.invalidThreadCount(1))
        #expect(!(ThreadPoolError.Code.shutDown ~= ThreadPoolError.saturated(maxPending: 1)))
    }
}
