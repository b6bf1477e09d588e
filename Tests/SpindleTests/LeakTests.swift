import Foundation
import Testing
@testable import Spindle

/// Leak accounting: every kind of object a pool allocates is counted while alive (debug builds),
/// and after a workload that uses every feature and a shutdown, every count is back where it
/// started. Run in a child process (an exit test), where no other test allocates meanwhile.
@Suite("leak accounting")
struct LeakTests {
    @Test("after shutdown, no job, task state, slab, thread or registry is left alive")
    func nothingLeft() async {
        await #expect(processExitsWith: .success) {
            let before = LiveObjects.snapshot
            await exerciseEveryFeature(gracefully: false)
            await exerciseEveryFeature(gracefully: true)
            // Detached threads (the heartbeat) leave their entry function just after signalling
            // that they stopped: give them a moment.
            let deadline = Date().addingTimeInterval(30)
            while LiveObjects.snapshot != before && Date() < deadline { usleep(1_000) }
            let after = LiveObjects.snapshot
            if after != before {
                print("live objects before: \(before)\nlive objects after: \(after)")
                exit(1)
            }
        }
    }
}

/// A workload touching every allocation site: joins (promoted and stolen), scopes with spawns,
/// broadcasts, spawn/submit/run with values, errors and cancellations, async admission, tasks on
/// the pool's executor, bounded concurrency, and parallel loops.
func exerciseEveryFeature(gracefully: Bool) async {
    do {
        let pool = try ThreadPool(configuration: .init(threads: 3, maxPending: 64))
        _ = pool.install { fibJoin(pool, 22) }
        _ = fibJoin(pool, 18)
        pool.scope { s in for _ in 0..<5_000 { s.spawn { blackHoleTest(1) } } }
        _ = pool.broadcast { $0.index }
        for i in 0..<200 { try? pool.spawn { blackHoleTest(i) } }
        let handles = (0..<100).compactMap { i in
            try? pool.submit { () throws -> Int in
                if i % 7 == 0 { throw TestError.left }; return i
            }
        }
        for (i, h) in handles.enumerated() where i % 5 == 0 { h.cancel() }
        for h in handles { _ = try? await h.value }
        _ = try await pool.run { 42 }
        _ = try await pool.submitAwaitingCapacity { 1 }.value
        try await pool.spawnAwaitingCapacity {}
        await withTaskExecutorPreference(pool) {
            await withDiscardingTaskGroup { group in
                for i in 0..<500 { group.addTask { blackHoleTest(i) } }
            }
        }
        // Async tasks: values, errors, a cancellation before the start, a timeout, and a scope
        // that ends by an error.
        let asyncHandles = (0..<40).compactMap { i in
            try? pool.submit(timeout: i == 3 ? .after(.milliseconds(1)) : .configured) { () async throws -> Int in
                if i == 3 { try await Task.sleep(for: .seconds(600)) }
                if i % 9 == 0 { throw TestError.left }
                return i
            }
        }
        asyncHandles.last?.cancel()
        _ = await asyncHandles.results()
        try? pool.spawn { () async in blackHoleTest(0) }
        _ = try? await pool.submitAwaitingCapacity { () async in 1 }.value
        try? await pool.withTaskScope { scope in
            for i in 0..<100 {
                try await scope.spawn {
                    if i == 50 { throw TestError.left }
                    await Task.yield()
                }
            }
        }
        try await pool.forEach(0..<50, maxConcurrent: 4) { blackHoleTest($0) }
        _ = try await pool.map(0..<50, maxConcurrent: 4) { $0 }
        _ = (0..<200_000).parallel(on: pool).map { $0 &* 3 }.filter { $0 % 2 == 0 }.collect()
        try pool.resize(threads: 5)
        _ = try await pool.spawnBroadcast { $0.index }.value
        try pool.resize(threads: 2)
        _ = pool.join({ 1 }, { 2 }, { 3 }, { 4 })
        var values = Array((0..<100_000).reversed())
        values.parallelSort(on: pool)
        if gracefully {
            _ = await pool.shutdown(gracePeriod: .seconds(30))
        } else {
            await pool.shutdown()
        }
    } catch {
        print("workload failed: \(error)")
        exit(2)
    }
}

@inline(never)
func blackHoleTest<T>(_ x: T) {
    withExtendedLifetime(x) {}
}
