import Benchmark
#if canImport(Glibc)
import Glibc
#endif
import Spindle

/// A tree in flat arrays, children by index: no reference counting in the workload itself, so
/// the retain/release and malloc counts below are Spindle's own.
struct FlatTree: @unchecked Sendable {  // read-only after construction
    let left: UnsafeMutableBufferPointer<Int32>
    let right: UnsafeMutableBufferPointer<Int32>

    init(depth: Int) {
        let n = (1 << depth) - 1
        left = .allocate(capacity: n)
        right = .allocate(capacity: n)
        var next = 0
        func build(_ d: Int) -> Int32 {
            if d == 0 { return -1 }
            let me = next
            next += 1
            left[me] = build(d - 1)
            right[me] = build(d - 1)
            return Int32(me)
        }
        _ = build(depth)
    }

    func count(_ i: Int32, _ pool: ThreadPool) -> Int {
        if i < 0 { return 0 }
        let (a, b) = pool.join({ count(left[Int(i)], pool) }, { count(right[Int(i)], pool) })
        return 1 + a + b
    }
}

let metrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, .retainCount, .releaseCount, .instructions]

let benchmarks: @Sendable () -> Void = {
    /// Allocation counts may drift by a quarter before a check fails. Wall-clock time and
    /// retain/release counts are reported, never checked: time depends on the machine, and
    /// reference counts depend on how the work was scheduled (they vary 2x between runs).
    let countTolerance: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(relative: [.p90: 25]),
    ]
    let pool = try! ThreadPool(threads: 1)
    let tree = FlatTree(depth: 16)  // 65,535 joins per iteration

    Benchmark("Join65535OnOneWorker",
              configuration: .init(metrics: metrics, scalingFactor: .one, thresholds: countTolerance)) { benchmark in
        let iterations = benchmark.scaledIterations.count
        let done = Latch()
        try pool.spawn {
            for _ in 0..<iterations { blackHole(tree.count(0, pool)) }
            done.open()
        }
        done.wait()
    }

    Benchmark("ScopeSpawn1000",
              configuration: .init(metrics: metrics, scalingFactor: .one, thresholds: countTolerance)) { benchmark in
        for _ in benchmark.scaledIterations {
            pool.scope { s in for _ in 0..<1_000 { s.spawn { blackHole(1) } } }
        }
    }

    Benchmark("SubmitAndWait",
              configuration: .init(metrics: metrics, scalingFactor: .one, thresholds: countTolerance)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try pool.submit { 1 }.wait())
        }
    }

    Benchmark("ParallelSum1e6ByJoin",
              configuration: .init(metrics: metrics, scalingFactor: .one, thresholds: countTolerance)) { benchmark in
        let data = [UInt64](repeating: 1, count: 1_000_000)
        @Sendable func sum(_ lo: Int, _ hi: Int) -> UInt64 {
            if hi - lo <= 4_096 { return data[lo..<hi].reduce(0, &+) }
            let mid = (lo + hi) / 2
            let (a, b) = pool.join({ sum(lo, mid) }, { sum(mid, hi) })
            return a &+ b
        }
        for _ in benchmark.scaledIterations { blackHole(pool.install { sum(0, data.count) }) }
    }
}

/// A one-shot gate for handing a benchmark's work to a worker and waiting for it.
final class Latch: @unchecked Sendable {  // `isOpen` is guarded by `lock`
    private var isOpen = false
    private let lock = NSLockish()
    func open() { lock.withLock { isOpen = true } }
    func wait() { while !lock.withLock({ isOpen }) { } }
}

final class NSLockish: @unchecked Sendable {  // a pthread mutex
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
