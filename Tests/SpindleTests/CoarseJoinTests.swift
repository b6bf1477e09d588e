import Synchronization
import Testing
@testable import Spindle

// Joins whose branches have no join points of their own (plain functions, blocking hand-offs):
// they must run in parallel whenever another thread is free, and a freed worker must take an
// offered join half before any background job. Each test synchronises through latches and
// counters; the only clock is the liveness guard of `repeatUntil` (a failure instead of a hang).

/// Spins (yielding the CPU) until `count` reaches `target`; false if the liveness guard expired.
private func arrive(_ count: Counter, waitingFor target: Int) -> Bool {
    count.add()
    return repeatUntil({ count.value >= target }, step: { yieldThread() })
}

/// Occupies one worker of `pool` with a job that blocks until the returned semaphore is
/// signalled; returns once the job has started.
private func occupyOneWorker(_ pool: ThreadPool) throws -> TestSemaphore {
    let release = TestSemaphore()
    let started = TestSemaphore()
    try pool.spawn {
        started.signal()
        release.wait()
    }
    started.wait()
    return release
}

@Suite("coarse joins: parallel without join points")
struct CoarseJoinTests {
    @Test("a binary join from an outside thread: the branches meet at a rendezvous")
    func binaryRendezvousFromOutside() throws {
        let pool = try ThreadPool(threads: 2)
        let arrived = Counter()
        let (a, b) = pool.join({ arrive(arrived, waitingFor: 2) }, { arrive(arrived, waitingFor: 2) })
        #expect(a && b)
    }

    @Test("a binary join on a worker while the other worker is idle: the branches meet")
    func binaryRendezvousOnWorker() throws {
        let pool = try ThreadPool(threads: 2)
        let arrived = Counter()
        let both = try pool.submit {
            let (a, b) = pool.join({ arrive(arrived, waitingFor: 2) }, { arrive(arrived, waitingFor: 2) })
            return a && b
        }
        #expect(try both.wait())
    }

    @Test("a 3-way join from outside a 2-thread pool: all three branches meet")
    func threeWayRendezvousFromOutside() throws {
        let pool = try ThreadPool(threads: 2)
        let arrived = Counter()
        let (a, b, c) = pool.join(
            { arrive(arrived, waitingFor: 3) },
            { arrive(arrived, waitingFor: 3) },
            { arrive(arrived, waitingFor: 3) })
        #expect(a && b && c)
    }

    @Test(
        "N-way joins of 4 to 8 branches on enough threads: every branch meets every other",
        arguments: [4, 8])
    func wideRendezvous(width: Int) throws {
        let pool = try ThreadPool(threads: width - 1)
        let arrived = Counter()
        @Sendable func leaf() -> Bool { arrive(arrived, waitingFor: width) }
        if width == 4 {
            let (a, b, c, d) = pool.join({ leaf() }, { leaf() }, { leaf() }, { leaf() })
            #expect(a && b && c && d)
        } else {
            let r = pool.join(
                { leaf() }, { leaf() }, { leaf() }, { leaf() }, { leaf() }, { leaf() },
                { leaf() }, { leaf() })
            #expect(r.0 && r.1 && r.2 && r.3 && r.4 && r.5 && r.6 && r.7)
        }
    }

    @Test("Spindle.join from an outside thread: a first branch that waits for the second completes")
    func freeJoinHandOff() {
        let handedOver = Flag()
        let (received, _) = Spindle.join(
            {
                repeatUntil({ handedOver.isSet }, step: { yieldThread() })
            },
            {
                handedOver.set()
            })
        #expect(received)
    }

    @Test("a join offered while every other worker was busy is taken by the first worker that frees up")
    func offeredWhileBusyIsTakenLater() throws {
        let pool = try ThreadPool(threads: 2)
        let release = try occupyOneWorker(pool)
        let handedOver = Flag()
        let joined = try pool.submit {
            // The other worker is busy now, so nobody can take `b` at the start of this join.
            let (received, _) = pool.join(
                {
                    release.signal()  // free the other worker: it must come and take `b`
                    return repeatUntil({ handedOver.isSet }, step: { yieldThread() })
                },
                {
                    handedOver.set()
                })
            return received
        }
        #expect(try joined.wait())
    }

    @Test("foreground first: a freed worker runs an offered join half before queued background jobs")
    func foregroundBeforeBackground() throws {
        let pool = try ThreadPool(threads: 2)
        let events = Locked<[String]>([])
        let offered = TestSemaphore()
        let release = try occupyOneWorker(pool)
        let handedOver = Flag()
        let joined = try pool.submit {
            let (received, _) = pool.join(
                {
                    offered.signal()  // `b` is on this worker's deque by now
                    return repeatUntil({ handedOver.isSet }, step: { yieldThread() })
                },
                {
                    events.append("join-half")
                    handedOver.set()
                })
            return received
        }
        offered.wait()
        let backgroundDone = TestSemaphore()
        for i in 0..<5 {
            try pool.spawn {
                events.append("background-\(i)")
                backgroundDone.signal()
            }
        }
        release.signal()
        #expect(try joined.wait())
        for _ in 0..<5 { #expect(backgroundDone.wait(timeoutSeconds: 60)) }
        let order = events.withLock { $0 }
        #expect(order.count == 6)
        #expect(order.first == "join-half", "order: \(order)")
    }

    @Test(
        "a join whose first branch blocks on a semaphore the second signals completes, from a worker and from outside",
        arguments: [false, true])
    func semaphoreHandOff(fromWorker: Bool) throws {
        let pool = try ThreadPool(threads: 2)
        let body: @Sendable () -> Bool = {
            let handOff = TestSemaphore()
            let (received, _) = pool.join({ handOff.wait(timeoutSeconds: 60) }, { handOff.signal() })
            return received
        }
        if fromWorker {
            #expect(try pool.submit(body).wait())
        } else {
            #expect(body())
        }
    }

    @Test("many coarse joins from outside threads at once all finish, each branch exactly once")
    func manyCoarseJoins() throws {
        let pool = try ThreadPool(threads: 2)
        let ran = Counter()
        runOnThreads(4) { _ in
            for _ in 0..<50 {
                let arrived = Counter()
                let (a, b) = pool.join(
                    {
                        ran.add(); return arrive(arrived, waitingFor: 2)
                    },
                    {
                        ran.add(); return arrive(arrived, waitingFor: 2)
                    })
                precondition(a && b, "a coarse join's branches never met")
            }
        }
        #expect(ran.value == 4 * 50 * 2)
    }
}
