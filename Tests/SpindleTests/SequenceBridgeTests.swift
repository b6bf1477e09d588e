import Synchronization
import Testing
@testable import Spindle

/// A sequence that can only be read in order, and counts what was read: how far ahead of the
/// processing the bridge reads.
struct CountingSequence: Sequence, Sendable {
    let count: Int?  // nil: endless
    let read: Counter

    struct Iterator: IteratorProtocol {
        let count: Int?
        let read: Counter
        var offset = 0
        mutating func next() -> Int? {
            if let count, offset >= count { return nil }
            defer { offset += 1 }
            read.add()
            return offset
        }
    }

    func makeIterator() -> Iterator { Iterator(count: count, read: read) }
}

/// Not `Sendable`: shared mutable state behind the iterator, as a generator reading a file has.
final class LineSource {
    var lines: [String]
    init(_ lines: [String]) { self.lines = lines.reversed() }
    func readLine() -> String? { lines.popLast() }
}

struct BridgeFailure: Error, Equatable { let at: Int }

@Suite("sequence bridge")
struct SequenceBridgeTests {
    @Test(
        "collect keeps the sequence's order, and every element is processed exactly once",
        arguments: isSanitizerRun ? [0, 1, 64, 65, 1_000] : [0, 1, 63, 64, 65, 1_000, 30_000],
        [2, 3, 100, ParallelBridge<CountingSequence>.defaultMaxBuffered])
    func collectKeepsOrder(count: Int, maxBuffered: Int) throws {
        for threads in [1, 2, 4] {
            let pool = try ThreadPool(threads: threads)
            defer { pool.shutdown() }
            let read = Counter()
            let tracker = OnceTracker(count: count)
            let doubled = CountingSequence(count: count, read: read).parallelBridge(on: pool, maxBuffered: maxBuffered)
                .map { i -> Int in
                    tracker.mark(i)
                    return 2 * i
                }
                .collect()
            #expect(doubled == (0..<count).map { 2 * $0 }, "threads \(threads)")
            #expect(tracker.total == count && tracker.duplicates == 0 && tracker.missing == 0)
            #expect(read.value == count)
        }
    }

    @Test("every terminal gives the sequential result", arguments: allStrategies + [.deterministic(leafSize: 16)])
    func terminals(strategy: SplitStrategy) throws {
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        let n = isSanitizerRun ? 4_000 : 20_000
        let values = (0..<n).map { ($0 &* 7_919) % 10_007 }
        let bridge = ParallelBridge(values.lazy.map { $0 }, on: pool).split(strategy)
        #expect(bridge.sum() == values.reduce(0, +))
        #expect(bridge.reduce(5, +) == values.reduce(5, +))
        #expect(bridge.count(where: { $0 % 3 == 0 }) == values.count(where: { $0 % 3 == 0 }))
        #expect(bridge.count() == n)
        #expect(bridge.filter { $0 % 5 == 0 }.collect() == values.filter { $0 % 5 == 0 })
        #expect(bridge.compactMap { $0 % 4 == 0 ? $0 / 4 : nil }.collect() == values.compactMap { $0 % 4 == 0 ? $0 / 4 : nil })
        #expect(bridge.min() == values.min() && bridge.max() == values.max())
        #expect(bridge.first(where: { $0 > 10_000 }) == values.first(where: { $0 > 10_000 }))
        #expect(bridge.last(where: { $0 < 5 }) == values.last(where: { $0 < 5 }))
        #expect(bridge.contains(9_999) == values.contains(9_999))
        #expect(bridge.allSatisfy { $0 >= 0 })
        // A non-commutative combine: the windows and their ranges are combined in order.
        let text = ParallelBridge((0..<3_000).lazy.map { String($0 % 10) }, on: pool).split(strategy).reduce("", +)
        #expect(text == (0..<3_000).map { String($0 % 10) }.joined())
    }

    @Test("holds at most maxBuffered elements read but not processed", arguments: [2, 7, 64, 1_000])
    func boundedBuffering(maxBuffered: Int) throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let read = Counter()
        let processed = Counter()
        let worstAhead = Counter()
        let n = isSanitizerRun ? 4_000 : 20_000
        CountingSequence(count: n, read: read).parallelBridge(on: pool, maxBuffered: maxBuffered).forEach { _ in
            // Read before processed: an upper bound on how many were read and not processed.
            worstAhead.raise(to: read.value - processed.value)
            processed.add()
        }
        #expect(processed.value == n)
        #expect(worstAhead.value <= maxBuffered, "read up to \(worstAhead.value) ahead")
    }

    @Test("searches and errors stop reading an endless sequence")
    func stopsEndlessSequence() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let read = Counter()
        let endless = CountingSequence(count: nil, read: read).parallelBridge(on: pool, maxBuffered: 1_000)
        let found = endless.contains(where: { $0 == 5_000 })
        let first = endless.first(where: { $0 > 0 && $0 % 4_321 == 0 })
        let firstDoubled = endless.map { $0 * 2 }.first(where: { $0 >= 30_000 })
        #expect(found && first == 4_321 && firstDoubled == 30_000)
        #expect(throws: BridgeFailure(at: 12_345)) {
            try endless.forEach { (i) throws(BridgeFailure) in if i == 12_345 { throw BridgeFailure(at: i) } }
        }
        // Each search reads at most two windows of 500 beyond its answer.
        #expect(read.value <= 5_001 + 4_322 + 15_001 + 12_346 + 4 * 1_000)
    }

    @Test("a sequence that is not Sendable is taken over by the bridge")
    func nonSendableSequence() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let lines = (0..<5_000).map { "line \($0)" }
        let expected = lines.map(\.count)
        let source = LineSource(lines)
        let bridge = ParallelBridge(AnySequence { AnyIterator { source.readLine() } }, on: pool)
        #expect(bridge.map(\.count).collect() == expected)
        #expect(bridge.count() == 0)  // the source is drained: a bridge reads what its sequence gives
    }

    @Test("one window's elements run on several threads at once: its first and last elements meet")
    func windowSharedAmongThreads() throws {
        // The first window holds 64 elements; elements 0 and 63 each wait for the other, so
        // both see the other arrive only if two threads work on that window at the same time
        // (on one thread, the first wait gives up after its deadline and the sum falls short).
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let arrived = Counter()
        let met = ParallelBridge(CountingSequence(count: 64, read: Counter()), on: pool)
            .map { (i: Int) -> Int in
                guard i == 0 || i == 63 else { return 0 }
                arrived.add()
                return repeatUntil({ arrived.value >= 2 }, step: { yieldThread() }) ? 1 : 0
            }
            .sum()
        #expect(met == 2)
    }

    @Test("the deterministic split gives one result on every pool")
    func deterministicOnEveryPool() throws {
        let values = (0..<50_000).map { (i: Int) -> Double in
            let sign: Double = i % 2 == 0 ? 1e8 : -1e8
            return Double(i % 97) * 1e-3 + sign + Double(i) * 1e-9
        }
        var sums: [UInt64] = []
        for threads in [1, 2, 4, 8] {
            let pool = try ThreadPool(threads: threads)
            defer { pool.shutdown() }
            sums.append(ParallelBridge(values.lazy.map { $0 }, on: pool).split(.deterministic(leafSize: 256)).sum().bitPattern)
        }
        #expect(Set(sums).count == 1)
    }

    @Test("per-thread state, from a worker, and terminals from two threads at once")
    func composesAndShares() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let n = 10_000
        let bridge = CountingSequence(count: n, read: Counter()).parallelBridge(on: pool, maxBuffered: 300)
        let made = Counter()
        let viaState = bridge.map(makingState: { () -> [Int] in
            _ = made.add()
            return []
        }) { scratch, i in
            scratch.append(i)
            return i + 1
        }.collect()
        #expect(viaState == Array(1...n))
        #expect(made.value <= pool.threadCount + 1)
        try onWorker(pool) { #expect(bridge.sum() == n * (n - 1) / 2) }
        let results = Locked<[Int]>([])
        runOnThreads(3) { _ in
            let total = bridge.reduce(0, +)
            results.withLock { $0.append(total) }
        }
        #expect(results.withLock { $0 } == Array(repeating: n * (n - 1) / 2, count: 3))
    }
}
