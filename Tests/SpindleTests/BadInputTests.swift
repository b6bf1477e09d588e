import Testing
@testable import Spindle

/// Invalid arguments at every public entry point that takes a count, a size or a duration:
/// a thrown `ThreadPoolError` where the call can throw, otherwise a precondition failure with a
/// message naming the call (checked in a child process). Configuration fields are covered in
/// ConfigurationTests.
@Suite("bad input")
struct BadInputTests {
    @Test("chunk sizes below 1 stop the process with a precondition failure", arguments: [0, -5])
    func chunkSize(size: Int) async {
        await #expect(processExitsWith: .failure) { [size] in
            _ = (0..<10).parallel.split(.chunks(of: size)).sum()
        }
        await #expect(processExitsWith: .failure) { [size] in
            _ = [1, 2, 3].parallel.chunks(of: size).count()
        }
    }

    @Test("a bridge needs room for two windows", arguments: [1, 0, -1])
    func bridgeBuffer(maxBuffered: Int) async {
        await #expect(processExitsWith: .failure) { [maxBuffered] in
            _ = [1, 2, 3].lazy.map { $0 }.parallelBridge(maxBuffered: maxBuffered).sum()
        }
    }

    @Test("a negative grace period stops the process with a precondition failure")
    func negativeGracePeriod() async {
        await #expect(processExitsWith: .failure) {
            let pool = try ThreadPool(threads: 1)
            _ = await pool.shutdown(gracePeriod: .seconds(-1))
        }
    }

    @Test("a metrics stream needs a positive interval", arguments: [Duration.zero, .milliseconds(-3)])
    func metricsInterval(interval: Duration) async {
        await #expect(processExitsWith: .failure) { [interval] in
            let pool = try ThreadPool(threads: 1)
            _ = pool.metrics(every: interval)
        }
    }

    @Test("maxConcurrent below 1 is an error for every bounded-concurrency call", arguments: [0, -1, Int.min])
    func maxConcurrent(value: Int) async throws {
        let pool = try ThreadPool(threads: 1)
        let stream = AsyncStream<Int> { $0.finish() }
        await #expect(throws: ThreadPoolError.invalidMaxConcurrent(value)) {
            try await pool.forEach([1, 2], maxConcurrent: value) { _ in }
        }
        await #expect(throws: ThreadPoolError.invalidMaxConcurrent(value)) {
            try await pool.forEach(stream, maxConcurrent: value) { _ in }
        }
        await #expect(throws: ThreadPoolError.invalidMaxConcurrent(value)) {
            _ = try await pool.map([1, 2], maxConcurrent: value) { $0 }
        }
        await #expect(throws: ThreadPoolError.invalidMaxConcurrent(value)) {
            _ = try await pool.map(stream, maxConcurrent: value) { $0 }
        }
        await pool.shutdown()
    }

    @Test(
        "a zero or negative timeout gives up at once unless the value is already there",
        arguments: [Duration.zero, .seconds(-1)])
    func timeouts(timeout: Duration) async throws {
        let blocked = try BlockedPool()
        let waiting = try blocked.pool.submit { 1 }
        await #expect(throws: ThreadPoolError.timedOut(timeout)) { try await waiting.value(timeout: timeout) }
        blocked.unblock()
        #expect(try await waiting.value == 1)
        #expect(try await waiting.value(timeout: timeout) == 1)
        await blocked.pool.shutdown()
    }

    @Test("work after shutdown is refused with .shutDown, never dropped silently")
    func afterShutdown() async throws {
        let pool = try ThreadPool(threads: 1)
        await pool.shutdown()
        #expect(throws: ThreadPoolError.shutDown) { try pool.spawn {} }
        #expect(throws: ThreadPoolError.shutDown) { _ = try pool.submit { 1 } }
        await #expect(throws: ThreadPoolError.shutDown) { try await pool.spawnAwaitingCapacity {} }
        await #expect(throws: ThreadPoolError.shutDown) { _ = try await pool.submitAwaitingCapacity { 1 } }
        await #expect(throws: ThreadPoolError.shutDown) { _ = try await pool.run { 1 } }
        // Fork-join calls still work: the caller does all the work.
        #expect(pool.join({ 1 }, { 2 }) == (1, 2))
        #expect((0..<100).parallel(on: pool).sum() == 4_950)
    }

    @Test("empty and one-element inputs are fine everywhere")
    func degenerateInputs() async throws {
        let pool = try ThreadPool(threads: 2)
        let empty: [Int] = []
        #expect(empty.parallel(on: pool).sum() == 0)
        #expect(empty.parallel(on: pool).min() == nil)
        #expect(empty.parallel(on: pool).first(where: { _ in true }) == nil)
        #expect(empty.parallel(on: pool).collect().isEmpty)
        var none: [Int] = []
        none.parallelSort(on: pool)
        none.parallelUpdateEach(on: pool) { $0 += 1 }
        #expect(none.isEmpty)
        try await pool.forEach(empty, maxConcurrent: 1) { _ in }
        #expect(pool.broadcast { _ in 1 }.count == 2)
        pool.scope { _ in }
        await pool.shutdown()
    }
}
