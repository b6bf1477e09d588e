import Synchronization
import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Values whose floating-point sum depends on the order of the additions: magnitudes from 1e-8
/// to 1e8, both signs.
func driftProneValues(_ count: Int) -> [Double] {
    var rng = SplitMix64(seed: 0x5EED &+ UInt64(count))
    return (0..<count).map { _ in
        let magnitude = Double.random(in: -8...8, using: &rng)
        let value = Double.random(in: 1..<10, using: &rng) * (magnitude < 0 ? 1 / pow10(-magnitude) : pow10(magnitude))
        return Bool.random(using: &rng) ? value : -value
    }
}

private func pow10(_ exponent: Double) -> Double {
    var result = 1.0
    for _ in 0..<Int(exponent) { result *= 10 }
    return result
}

/// The documented tree of `.deterministic(leafSize:)`, computed sequentially: leaves folded from
/// their first element, a range of `k > 1` leaves split after `k / 2` of them.
func referenceTreeSum(_ values: [Double], _ lo: Int, _ hi: Int, leafSize: Int) -> Double? {
    let leaves = (hi - lo + leafSize - 1) / leafSize
    if leaves <= 1 {
        var running: Double? = nil
        for value in values[lo..<hi] { running = running.map { $0 + value } ?? value }
        return running
    }
    let mid = lo + (leaves / 2) * leafSize
    switch (referenceTreeSum(values, lo, mid, leafSize: leafSize), referenceTreeSum(values, mid, hi, leafSize: leafSize)) {
    case (let left?, let right?): return left + right
    case (let left, let right): return left ?? right
    }
}

@Suite("deterministic reduction")
struct DeterministicReductionTests {
    static let count = isSanitizerRun ? 20_011 : 200_003

    @Test("the same Double sum on 1, 2, 4 and 8 threads, and under a saturating background load")
    func sameSumOnEveryPool() throws {
        let values = driftProneValues(Self.count)
        for leafSize in [1_024, 4_096, 777] {
            let strategy: SplitStrategy = leafSize == 4_096 ? .deterministic : .deterministic(leafSize: leafSize)
            let expected = try #require(referenceTreeSum(values, 0, values.count, leafSize: leafSize))
            var sums: [UInt64] = []
            var reductions: [UInt64] = []
            for threads in [1, 2, 4, 8] {
                let pool = try ThreadPool(threads: threads)
                for _ in 0..<3 {
                    sums.append(values.parallel(on: pool).split(strategy).sum().bitPattern)
                    reductions.append(values.parallel(on: pool).split(strategy).reduce(0.5, +).bitPattern)
                    // From a worker too: the calling thread's kind must not matter either.
                    let fromWorker = try onWorker(pool) { values.parallel(on: pool).split(strategy).sum() }
                    sums.append(fromWorker.bitPattern)
                }
                pool.shutdown()
            }
            // Every worker of a two-thread pool busy with background work that spins until the
            // loop is done: the caller folds alone, or with whichever worker comes free.
            let busyPool = try ThreadPool(threads: 2)
            let release = Flag()
            let started = Counter()
            for _ in 0..<4 {
                try busyPool.spawn {
                    started.add()
                    while !release.isSet { sched_yield() }
                }
            }
            while started.value < 2 { sched_yield() }
            sums.append(values.parallel(on: busyPool).split(strategy).sum().bitPattern)
            reductions.append(values.parallel(on: busyPool).split(strategy).reduce(0.5, +).bitPattern)
            release.set()
            busyPool.shutdown()

            #expect(Set(sums) == [(0 + expected).bitPattern], "leaf size \(leafSize)")
            #expect(Set(reductions) == [(0.5 + expected).bitPattern], "leaf size \(leafSize)")
        }
    }

    @Test("the order really matters for these values (so the test above can fail)")
    func orderMatters() {
        let values = driftProneValues(Self.count)
        let sequential = values.reduce(0, +)
        let tree = referenceTreeSum(values, 0, values.count, leafSize: 1_024)!
        let otherTree = referenceTreeSum(values, 0, values.count, leafSize: 1_000)!
        #expect(sequential != tree || tree != otherTree)
    }

    @Test("short inputs and leaves of one element follow the same tree", arguments: [0, 1, 2, 3, 5, 64, 1_000])
    func shortInputs(count: Int) throws {
        let values = driftProneValues(count)
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        for leafSize in [1, 2, 7] {
            let sum = values.parallel(on: pool).split(.deterministic(leafSize: leafSize)).sum()
            let expected = referenceTreeSum(values, 0, values.count, leafSize: leafSize).map { 0 + $0 } ?? 0
            #expect(sum.bitPattern == expected.bitPattern, "count \(count), leaf size \(leafSize)")
        }
    }

    @Test("a deterministic split gives every other terminal its usual result")
    func otherTerminals() throws {
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        let data = testData(10_007)
        let strategy = SplitStrategy.deterministic(leafSize: 100)
        #expect(data.parallel(on: pool).split(strategy).map { $0 * 2 }.collect() == data.map { $0 * 2 })
        #expect(data.parallel(on: pool).split(strategy).filter { $0 > 0 }.collect() == data.filter { $0 > 0 })
        #expect(data.parallel(on: pool).split(strategy).count(where: { $0 % 3 == 0 }) == data.count(where: { $0 % 3 == 0 }))
        #expect(data.parallel(on: pool).split(strategy).first(where: { $0 > 490 }) == data.first(where: { $0 > 490 }))
        #expect(data.parallel(on: pool).split(strategy).min() == data.min())
        #expect(SplitStrategy.deterministic.description == "deterministic")
        #expect(strategy.description == "deterministic(leafSize: 100)")
    }
}
