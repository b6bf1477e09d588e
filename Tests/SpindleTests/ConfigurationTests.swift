import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The calling thread's pthread identity, as a number.
@Sendable func threadID() -> UInt {
    #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
    #else
        UInt(pthread_self())
    #endif
}

@Suite("configuration")
struct ConfigurationTests {
    // MARK: Rejected values

    @Test("thread hooks run on every worker, before its first job and before shutdown returns")
    func threadHooks() throws {
        let started = Locked<[Int: UInt]>([:])
        let exited = Locked<[Int: UInt]>([:])
        var configuration = ThreadPool.Configuration(threads: 3)
        configuration.threadHooks = ThreadPool.ThreadHooks(
            onStart: { index in started.withLock { $0[index] = threadID() } },
            onExit: { index in exited.withLock { $0[index] = threadID() } })
        let pool = try ThreadPool(configuration: configuration)
        // Every job runs on a thread whose start hook has already run.
        let unstartedRuns = Counter()
        let handles = try (0..<64).map { _ in
            try pool.submit {
                // (`wait()` may run a task that has not started on the waiting thread itself.)
                if let index = pool.currentThreadIndex, started.withLock({ $0[index] }) != threadID() { unstartedRuns.add() }
            }
        }
        for handle in handles { try handle.wait() }
        (0..<10_000).parallel(on: pool).forEach { _ in
            if let index = pool.currentThreadIndex, started.withLock({ $0[index] }) != threadID() { unstartedRuns.add() }
        }
        pool.shutdown()
        #expect(unstartedRuns.value == 0)
        let starts = started.withLock { $0 }
        let exits = exited.withLock { $0 }
        #expect(Set(starts.keys) == [0, 1, 2])
        #expect(starts == exits, "each worker's exit hook runs on its own thread, before shutdown returns")
        #expect(configuration == configuration)
        var other = configuration
        other.threadHooks = ThreadPool.ThreadHooks()
        #expect(other != configuration)
    }

    @Test("zero and negative thread counts are rejected", arguments: [0, -1, -64, Int.min])
    func invalidThreadCount(threads: Int) {
        #expect(throws: ThreadPoolError.invalidThreadCount(threads)) {
            _ = try ThreadPool(threads: threads)
        }
        #expect(throws: ThreadPoolError.invalidThreadCount(threads)) {
            _ = try ThreadPool(configuration: .init(threads: threads))
        }
    }

    @Test(
        "a non-positive heartbeat interval is rejected",
        arguments: [Duration.zero, .nanoseconds(-1), .seconds(-3)])
    func invalidHeartbeat(interval: Duration) {
        #expect(throws: ThreadPoolError.invalidHeartbeatInterval(interval)) {
            _ = try ThreadPool(configuration: .init(threads: 2, heartbeatInterval: interval))
        }
    }

    @Test("a stack size below the platform minimum is rejected", arguments: [-1, 0, 1, 1_024])
    func invalidStackSize(size: Int) throws {
        do throws(ThreadPoolError) {
            _ = try ThreadPool(configuration: .init(threads: 2, stackSize: size))
            Issue.record("a pool with a \(size)-byte stack was created")
        } catch {
            guard error.code == .invalidStackSize, let requested = error.rejectedValue, let minimum = error.limit else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(requested == size)
            #expect(minimum > 1_024)
            // A size at or above the minimum is accepted.
            let pool = try ThreadPool(configuration: .init(threads: 1, stackSize: max(minimum, 1 << 20)))
            #expect(pool.broadcast { $0.index } == [0])
        }
    }

    @Test("maxPending below 1 is rejected", arguments: [0, -1])
    func invalidMaxPending(maxPending: Int) {
        #expect(throws: ThreadPoolError.invalidMaxPending(maxPending)) {
            _ = try ThreadPool(configuration: .init(threads: 2, maxPending: maxPending))
        }
    }

    @Test("the first invalid field is reported and nothing is started")
    func invalidStartsNothing() throws {
        #expect(throws: ThreadPoolError.invalidThreadCount(0)) {
            _ = try ThreadPool(
                configuration: .init(
                    threads: 0, threadNamePrefix: "inval-",
                    heartbeatInterval: .zero, maxPending: 0))
        }
        #expect(throws: ThreadPoolError.invalidMaxPending(0)) {
            _ = try ThreadPool(configuration: .init(threads: 2, threadNamePrefix: "inval-", maxPending: 0))
        }
        #if os(Linux)
            #expect(procThreads(prefix: "inval-").isEmpty)
        #endif
    }

    // MARK: Error descriptions

    @Test("error descriptions are readable and mention the bad value")
    func errorDescriptions() {
        let cases: [(ThreadPoolError, [String])] = [
            (.invalidThreadCount(0), ["0", "thread"]),
            (.invalidThreadCount(-7), ["-7"]),
            (.invalidHeartbeatInterval(.seconds(-2)), ["\(Duration.seconds(-2))", "heartbeat"]),
            (.invalidHeartbeatInterval(.zero), ["\(Duration.zero)"]),
            (.invalidStackSize(requested: 1_000, minimum: 16_384), ["1000", "16384", "stack"]),
            (.invalidMaxPending(0), ["0", "maxPending"]),
            (.invalidMaxPending(-5), ["-5"]),
            (.saturated(maxPending: 12), ["12"]),
            (.threadCreationFailed(errno: 11), ["11"]),
            (.shutDown, ["shut down"]),
        ]
        for (error, fragments) in cases {
            let text = String(describing: error)
            #expect(!text.isEmpty)
            #expect(text == error.description)
            for fragment in fragments {
                #expect(text.contains(fragment), "\(text) should mention \(fragment)")
            }
        }
    }

    @Test("errors compare by case and payload")
    func errorEquality() {
        #expect(ThreadPoolError.invalidThreadCount(0) == .invalidThreadCount(0))
        #expect(ThreadPoolError.invalidThreadCount(0) != .invalidThreadCount(-1))
        #expect(ThreadPoolError.saturated(maxPending: 1) != .invalidMaxPending(1))
    }

    // MARK: Accepted values

    @Test("defaults: one thread per usable core and documented values")
    func defaults() {
        let configuration = ThreadPool.Configuration()
        #expect(ThreadPool.usableCoreCount >= 1)
        #expect(configuration.threads == ThreadPool.usableCoreCount)
        #expect(configuration.threadNamePrefix == "spindle-")
        #expect(configuration.heartbeatInterval == .microseconds(100))
        #expect(configuration.pinning == .none)
        #expect(configuration.stackSize == nil)
        #expect(configuration.maxPending == nil)
        #expect(configuration.spinBeforeSleep >= 0)
    }

    @Test("a pool keeps its configuration and has the requested number of threads", arguments: [1, 2, 4])
    func keepsConfiguration(threads: Int) throws {
        let configuration = ThreadPool.Configuration(
            threads: threads, threadNamePrefix: "cfg-",
            heartbeatInterval: .milliseconds(1),
            spinBeforeSleep: 10, maxPending: 100)
        let pool = try ThreadPool(configuration: configuration)
        #expect(pool.configuration == configuration)
        #expect(pool.threadCount == threads)
        #expect(pool.broadcast { $0.index } == Array(0..<threads))
        #expect(fibJoin(pool, 16) == fibSequential(16))
        let convenience = try ThreadPool(threads: threads)
        #expect(convenience.threadCount == threads)
        #expect(convenience.configuration == ThreadPool.Configuration(threads: threads))
    }

    @Test(
        "unusual but valid settings still compute correct results",
        arguments: [
            ThreadPool.Configuration(threads: 2, spinBeforeSleep: 0),
            ThreadPool.Configuration(threads: 2, spinBeforeSleep: 1),
            ThreadPool.Configuration(threads: 2, heartbeatInterval: .nanoseconds(1)),
            ThreadPool.Configuration(threads: 2, heartbeatInterval: .milliseconds(20)),
            ThreadPool.Configuration(threads: 2, pinning: .cores),
            ThreadPool.Configuration(threads: 3, stackSize: 2 << 20),
            ThreadPool.Configuration(threads: 2, maxPending: 1),
        ])
    func validSettingsWork(configuration: ThreadPool.Configuration) throws {
        let pool = try ThreadPool(configuration: configuration)
        #expect(fibJoin(pool, 17) == fibSequential(17))
        let counter = Counter()
        pool.scope { s in for _ in 0..<500 { s.spawn { counter.add() } } }
        #expect(counter.value == 500)
        #expect(pool.broadcast { $0.index } == Array(0..<configuration.threads))
        #expect(try pool.submit { 11 }.wait() == 11)
        pool.shutdown()
    }

    @Test("shutdown() does not wait out a long heartbeat interval")
    func shutdownWithLongHeartbeat() throws {
        // The heartbeat thread waits out an interval on its futex word, which Heartbeat.stop()
        // bumps, so shutdown() (and deinit) never wait for a tick. The interval here is an hour.
        let pool = try ThreadPool(configuration: .init(threads: 1, heartbeatInterval: .seconds(3_600)))
        // An outside caller inside a call (active) while the only worker idles (hungry): the
        // heartbeat thread starts a tick.
        pool.install { sleepMilliseconds(100) }
        #expect(completes(within: 10, "shutdown() with a 1-hour heartbeat interval") { pool.shutdown() })
    }

    #if os(Linux)
        @Test("worker threads are named after threadNamePrefix")
        func threadNames() throws {
            let pool = try ThreadPool(configuration: .init(threads: 3, threadNamePrefix: "cfgn-"))
            let expected: Set<String> = ["cfgn-0", "cfgn-1", "cfgn-2", "cfgn-heartbeat"]
            #expect(waitUntil { Set(procThreads(prefix: "cfgn-").map(\.name)) == expected })
            withExtendedLifetime(pool) {}
        }
    #endif
}
