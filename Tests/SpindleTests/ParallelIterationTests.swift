import Foundation
import Synchronization
import Testing
@testable import Spindle

/// Whether this is a sanitizer run of CI (`SPINDLE_SANITIZER_RUN` set), where everything runs
/// several times slower.
let isSanitizerRun = ProcessInfo.processInfo.environment["SPINDLE_SANITIZER_RUN"] != nil

/// The large input size: 2·10^5 elements (2·10^4 in the sanitizer runs). Enough for hundreds of
/// heartbeats, and so splits, within one loop even in a debug build, on every strategy
/// (`.perItem` makes one join per element).
let largeCount = isSanitizerRun ? 20_000 : 200_000

/// An affine map `x ↦ a·x + b` (wrapping), for reductions whose order matters.
struct Affine: Equatable, Sendable {
    var a: Int
    var b: Int
}

/// `.serialized` in the sanitizer runs, and no trait otherwise.
let serialisedInSanitizerRuns: any SuiteTrait = isSanitizerRun ? ParallelizationTrait.serialized : Tag.List.tags()

/// Every split strategy, named for test output.
let allStrategies: [SplitStrategy] = [.adaptive, .evenly, .chunks(of: 97), .perItem]

/// Deterministic test data with repeats and negatives (so min/max ties and filters matter).
func testData(_ count: Int) -> [Int] {
    var rng = SplitMix64(seed: UInt64(count) &+ 99)
    return (0..<count).map { _ in Int.random(in: -500..<500, using: &rng) }
}

/// Serialised in the sanitizer runs: there its tests' pools, run side by side, spent more time
/// contending for the two cores than working (the whole thread-sanitizer run took 148 s with
/// this suite in parallel, 111 and 121 s with it serialised; the suite alone took 78 s in
/// parallel, where its five heaviest tests, run one at a time, took 42 s together). Plain
/// debug runs keep it parallel.
@Suite("parallel iteration", serialisedInSanitizerRuns)
struct ParallelIterationTests {
    let pool: ThreadPool

    init() throws { pool = try ThreadPool(threads: 3) }

    @Test(
        "terminals and adaptors match their sequential twins",
        arguments: [0, 1, 7, 1_001, largeCount], allStrategies)
    func matchesSequential(count: Int, strategy: SplitStrategy) {
        let data = testData(count)
        let p = data.parallel(on: pool).split(strategy)

        #expect(p.sum() == data.reduce(0, +))
        #expect(p.reduce(0, +) == data.reduce(0, +))
        #expect(p.min() == data.min())
        #expect(p.max() == data.max())
        #expect(p.count() == data.count)
        #expect(p.count(where: { $0 > 0 }) == data.filter { $0 > 0 }.count)
        #expect(p.contains(where: { $0 == 499 }) == data.contains(where: { $0 == 499 }))
        #expect(p.contains(where: { $0 == 10_000 }) == false)
        #expect(p.allSatisfy { $0 < 500 } == true)
        #expect(p.allSatisfy { $0 < 400 } == data.allSatisfy { $0 < 400 })
        #expect(p.first(where: { $0 > 450 }) == data.first(where: { $0 > 450 }))
        #expect(p.collect() == data)

        #expect(p.map { $0 &* 3 }.collect() == data.map { $0 &* 3 })
        #expect(p.filter { $0 % 3 == 0 }.collect() == data.filter { $0 % 3 == 0 })
        #expect(p.filter { $0 % 3 == 0 }.count() == data.filter { $0 % 3 == 0 }.count)
        #expect(p.compactMap { $0 > 0 ? String($0) : nil }.collect() == data.compactMap { $0 > 0 ? String($0) : nil })
        let negatives: Double = p.map { Double($0) }.filter { $0 < 0 }.sum()
        let negativesExpected: Double = data.map { Double($0) }.filter { $0 < 0 }.reduce(0, +)
        #expect(negatives == negativesExpected)
        #expect(p.enumerated().map { $0.offset &* $0.element }.sum() == data.enumerated().map { $0.offset &* $0.element }.reduce(0, +))
        #expect(p.enumerated().first(where: { $0.element == 0 })?.offset == data.firstIndex(of: 0))
        let shifted = Array(data.reversed())
        #expect(p.zip(shifted.parallel).map { $0 &- $1 }.collect() == zip(data, shifted).map { $0 &- $1 })
        #expect(p.zip((0..<(count / 2)).parallel).count() == count / 2)
        // min/max keep the first of equal elements, as the standard library does.
        #expect(
            p.enumerated().min(by: { $0.element < $1.element })?.offset
                == data.enumerated().min(by: { $0.element < $1.element })?.offset)
        #expect(
            p.enumerated().max(by: { $0.element < $1.element })?.offset
                == data.enumerated().max(by: { $0.element < $1.element })?.offset)
    }

    @Test(
        "reduce uses its initial value once, leftmost, as Sequence.reduce does",
        arguments: [0, 1, 7, 1_001, largeCount], allStrategies)
    func reduceInitialValueOnce(count: Int, strategy: SplitStrategy) {
        let data = testData(count)
        let p = data.parallel(on: pool).split(strategy)
        #expect(p.reduce(10, +) == data.reduce(10, +))
        #expect(p.filter { $0 > 0 }.reduce(-7, +) == data.filter { $0 > 0 }.reduce(-7, +))
        // Composition of affine maps x ↦ a·x + b: associative, not commutative, no use of an
        // identity, so any reordering or repeated initial value changes the result.
        let compose: @Sendable (Affine, Affine) -> Affine = { f, g in
            Affine(a: f.a &* g.a, b: f.b &* g.a &+ g.b)
        }
        let start = Affine(a: 3, b: 5)
        let maps = p.map { Affine(a: $0 | 1, b: $0) }
        #expect(maps.reduce(start, compose) == data.map { Affine(a: $0 | 1, b: $0) }.reduce(start, compose))
    }

    @Test("chunks(of:) hands out contiguous slices in order, the last one shorter", arguments: allStrategies)
    func chunks(strategy: SplitStrategy) {
        let data = testData(10_007)
        for size in [1, 7, 1_000, 10_007, 20_000] {
            let p = data.parallel(on: pool).split(strategy).chunks(of: size)
            let expected = stride(from: 0, to: data.count, by: size).map { data[$0..<Swift.min($0 + size, data.count)] }
            #expect(p.count() == expected.count)
            let slices = p.collect()
            #expect(slices.map { $0.startIndex } == expected.map { $0.startIndex })  // a chunk keeps the indices
            #expect(slices.map(Array.init) == expected.map(Array.init))
            #expect(p.map { $0.reduce(0, +) }.sum() == data.reduce(0, +))
        }
        #expect([Int]().parallel(on: pool).chunks(of: 3).collect().isEmpty)
    }

    /// An empty result must not be made through the standard library's shared empty storage
    /// with a store into it: the thread sanitizer (CI runs the tests under it) reports the stores
    /// of two threads that collect nothing at once.
    @Test("collect() of nothing, on many threads at once, returns empty arrays")
    func emptyCollectsAtOnce() {
        let empties = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<200 {
                let result = [Int]().parallel(on: pool).map { $0 + 1 }.collect()
                if result.isEmpty { empties.wrappingAdd(1, ordering: .relaxed) }
            }
        }
        #expect(empties.load(ordering: .relaxed) == 8 * 200)
    }

    @Test("strides of integers run in parallel with the stride's elements", arguments: allStrategies)
    func strides(strategy: SplitStrategy) {
        let cases: [(from: Int, to: Int, by: Int)] = [
            (0, 100, 3), (0, 99, 3), (10, -3, -4), (5, 5, 1), (5, 0, 1), (0, 1, 10), (-7, 7, 7),
        ]
        for c in cases {
            let open = stride(from: c.from, to: c.to, by: c.by)
            #expect(open.parallel(on: pool).split(strategy).collect() == Array(open), "\(c)")
            let closed = stride(from: c.from, through: c.to, by: c.by)
            #expect(closed.parallel(on: pool).split(strategy).collect() == Array(closed), "\(c)")
        }
        // The issue's case: a UInt32 stride (its Stride is Int), a count the type cannot hold.
        let big = stride(from: UInt32(0), to: 4_000_000_000, by: 40_000)
        #expect(big.parallel(on: pool).split(strategy).map { Int($0) }.sum() == big.reduce(0) { $0 + Int($1) })
        #expect(stride(from: 10, through: 100, by: 10).parallel(on: pool).sum() == 550)
    }

    @Test("parallelUpdateEach hands each element its offset", arguments: allStrategies)
    func updateWithOffset(strategy: SplitStrategy) {
        var values = [Int](repeating: -1, count: 10_003)
        values.parallelUpdateEach(on: pool, split: strategy) { offset, value in value = offset * 2 }
        #expect(values == (0..<10_003).map { $0 * 2 })
        var slice = Array(0..<100)[10..<60]
        slice.parallelUpdateEach(on: pool, split: strategy) { offset, value in value += offset }
        #expect(Array(slice) == (0..<50).map { 10 + $0 * 2 })
        var notContiguous = Strided(storage: Array(repeating: 0, count: 999))
        notContiguous.parallelUpdateEach(on: pool, split: strategy) { offset, value in value = offset }
        #expect(notContiguous.storage == Array(0..<999))
    }

    @Test("ranges and collections without contiguous storage", arguments: allStrategies)
    func rangesAndOtherCollections(strategy: SplitStrategy) {
        let n = isSanitizerRun ? 20_003 : 100_003
        #expect((0..<n).parallel(on: pool).split(strategy).sum() == (0..<n).reduce(0, +))
        #expect((1...n).parallel(on: pool).split(strategy).map { $0 % 7 }.collect() == (1...n).map { $0 % 7 })
        let strided = Strided(storage: testData(5_001))
        #expect(strided.parallel(on: pool).split(strategy).filter { $0 > 0 }.collect() == strided.storage.filter { $0 > 0 })
        let slice = testData(10_000)[1_234..<8_765]
        #expect(slice.parallel(on: pool).split(strategy).collect() == Array(slice))
        #expect(slice.parallel(on: pool).split(strategy).first(where: { $0 == slice.last }) == slice.last)
    }

    @Test("forEach visits every element exactly once", arguments: [0, 1, 7, largeCount], allStrategies)
    func forEachExactlyOnce(count: Int, strategy: SplitStrategy) {
        let tracker = OnceTracker(count: count)
        (0..<count).parallel(on: pool).split(strategy).forEach { tracker.mark($0) }
        #expect(tracker.total == count)
        #expect(tracker.duplicates == 0)
        #expect(tracker.missing == 0)
    }

    /// Slow enough elements (a few hundred nanoseconds) on four threads that many heartbeats
    /// split the ranges while they run, so that pieces are taken back, stolen, and claimed by
    /// the threads waiting for them; order and exactly-once must survive every path.
    @Test("adaptive pieces, stolen or claimed, keep position order and run once")
    func adaptivePiecesKeepOrder() throws {
        let wide = try ThreadPool(threads: 4)
        defer { wide.shutdown() }
        let n = isSanitizerRun ? 4_000 : 40_000
        let slow: @Sendable (Int) -> Int = { x in
            var v = x
            for _ in 0..<200 { v = v &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
            return (v >> 33) & 1_023
        }
        let values = (0..<n).map(slow)
        let compose: @Sendable (Affine, Affine) -> Affine = { f, g in
            Affine(a: f.a &* g.a, b: f.b &* g.a &+ g.b)
        }
        let expected = values.map { Affine(a: $0 | 1, b: $0) }.reduce(Affine(a: 1, b: 0), compose)
        for _ in 0..<(isSanitizerRun ? 2 : 4) {
            let p = (0..<n).parallel(on: wide)
            #expect(p.map { Affine(a: slow($0) | 1, b: slow($0)) }.reduce(Affine(a: 1, b: 0), compose) == expected)
            #expect(p.map(slow).filter { $0 % 3 == 0 }.collect() == values.filter { $0 % 3 == 0 })
            let tracker = OnceTracker(count: n)
            p.forEach {
                _ = slow($0)
                tracker.mark($0)
            }
            #expect(tracker.total == n && tracker.duplicates == 0 && tracker.missing == 0)
        }
    }

    /// Items 0 and 1 can only finish together (each waits until the other has started), and
    /// item 3 only after item 0 (the waits are generous guards, not clocks the test relies on).
    /// On a one-worker pool called from outside, halving would give items 0–1 to this thread
    /// and 2–3 to the worker, which would then wait in item 3 while item 1 sits behind item 0;
    /// handed out one by one, every item starts on the next free thread, and all four finish.
    @Test("a short .perItem loop hands its items to free threads one by one")
    func perItemFirstCome() throws {
        let oneWorker = try ThreadPool(threads: 1)
        defer { oneWorker.shutdown() }
        let zeroStarted = DispatchSemaphore(value: 0)
        let oneStarted = DispatchSemaphore(value: 0)
        let zeroDone = DispatchSemaphore(value: 0)
        let guardTime = DispatchTime.now() + 30
        let met = (0..<4).parallel(on: oneWorker).split(.perItem).map { (item: Int) -> Bool in
            switch item {
            case 0:
                zeroStarted.signal()
                defer { zeroDone.signal() }
                return oneStarted.wait(timeout: guardTime) == .success
            case 1:
                oneStarted.signal()
                return zeroStarted.wait(timeout: guardTime) == .success
            case 3:
                return zeroDone.wait(timeout: guardTime) == .success
            default:
                return true
            }
        }.collect()
        #expect(met == [true, true, true, true])
    }

    @Test("searching terminals find the first match on every strategy", arguments: allStrategies)
    func searchingTerminals(strategy: SplitStrategy) {
        let n = largeCount
        let p = (0..<n).parallel(on: pool).split(strategy)
        let found = p.contains(where: { $0 == 10 })
        let first = p.first(where: { $0 == 500 || $0 == n - 7 })
        let noTwenty = p.allSatisfy { $0 != 20 }
        let allBelow = p.allSatisfy { $0 < n }
        #expect(found && first == 500 && !noTwenty && allBelow)
    }

    @Test(
        "last(where:), firstIndex, lastIndex and contains(_:) match the standard library's", arguments: [0, 1, 7, 1_001, largeCount],
        allStrategies)
    func indexSearches(count: Int, strategy: SplitStrategy) {
        let data = testData(count)
        let p = data.parallel(on: pool).split(strategy)
        for target in [-500, 0, 17, 499, 1_000] {
            #expect(p.last(where: { $0 == target }) == data.last(where: { $0 == target }))
            #expect(p.firstIndex(where: { $0 == target }) == data.firstIndex(where: { $0 == target }))
            #expect(p.lastIndex(where: { $0 == target }) == data.lastIndex(where: { $0 == target }))
            #expect(p.firstIndex(of: target) == data.firstIndex(of: target))
            #expect(p.lastIndex(of: target) == data.lastIndex(of: target))
            #expect(p.contains(target) == data.contains(target))
        }
        // Through adaptors: the last element of the filtered sequence, by collection order.
        #expect(p.filter { $0 % 7 == 0 }.last(where: { $0 > 0 }) == data.filter { $0 % 7 == 0 }.last(where: { $0 > 0 }))
        #expect(p.map { $0 * 2 }.last(where: { $0 < -900 }) == data.map { $0 * 2 }.last(where: { $0 < -900 }))
        // Indices of a slice are the slice's own.
        let slice = data.dropFirst(count / 3)
        #expect(slice.parallel(on: pool).split(strategy).lastIndex(where: { $0 > 400 }) == slice.lastIndex(where: { $0 > 400 }))
        #expect(slice.parallel(on: pool).split(strategy).firstIndex(where: { $0 > 400 }) == slice.firstIndex(where: { $0 > 400 }))
    }

    @Test("last(where:) rethrows the first error", arguments: allStrategies)
    func lastWhereThrows(strategy: SplitStrategy) {
        #expect(throws: TestError.boom(77)) {
            _ = try (0..<largeCount).parallel(on: pool).split(strategy).last { (i: Int) throws(TestError) -> Bool in
                if i == 77 { throw TestError.boom(77) }
                return i == 5
            }
        }
    }

    /// How much a search visits after its match, counted where nothing else can interfere: on
    /// the only worker of a one-thread pool, with no outside participant (a `spawnBroadcast`
    /// part's waiter does not take part). The loop looks at the stop flag between batches, so a
    /// stop found at position 10 ends the loop within the batch that holds it.
    @Test("searching terminals stop at the batch that holds the match", arguments: allStrategies)
    func shortCircuitCounted(strategy: SplitStrategy) throws {
        let single = try ThreadPool(threads: 1)
        defer { single.shutdown() }
        let n = largeCount
        let batch = 1_024  // the most positions folded between two looks at the stop flag
        let visits = try single.spawnBroadcast { _ -> [Int] in
            let p = (0..<n).parallel(on: single).split(strategy)
            let visited = Counter()
            _ = p.contains(where: {
                visited.add(); return $0 == 10
            })
            let afterContains = visited.value
            visited.store(0)
            _ = p.first(where: {
                visited.add(); return $0 == 500
            })
            let afterFirst = visited.value
            visited.store(0)
            _ = p.allSatisfy {
                visited.add(); return $0 != 20
            }
            let afterAllSatisfy = visited.value
            visited.store(0)
            try? p.forEach { (i: Int) throws(TestError) in
                visited.add()
                if i == 3 { throw TestError.boom(3) }
            }
            return [afterContains, afterFirst, afterAllSatisfy, visited.value]
        }.wait()[0]
        #expect(visits[0] <= 10 + batch, "contains visited \(visits[0]) of \(n)")
        #expect(visits[1] <= 500 + batch, "first(where:) visited \(visits[1]) of \(n)")
        #expect(visits[2] <= 20 + batch, "allSatisfy visited \(visits[2]) of \(n)")
        #expect(visits[3] <= 3 + batch, "a throwing forEach visited \(visits[3]) of \(n)")
    }

    @Test("the first error stops the loop and is rethrown", arguments: allStrategies)
    func errors(strategy: SplitStrategy) {
        let n = largeCount
        let visited = Counter()
        let p = (0..<n).parallel(on: pool).split(strategy)
        #expect(throws: TestError.boom(3)) {
            try p.forEach { (i: Int) throws(TestError) in
                visited.add()
                if i == 3 { throw TestError.boom(3) }
            }
        }
        #expect(visited.value >= 4)  // how far it went after the error: `shortCircuitCounted`

        // With many throwers, one of their errors comes out.
        do {
            try p.forEach { (i: Int) throws(TestError) in if i % 1_000 == 999 { throw TestError.boom(i) } }
            Issue.record("no error")
        } catch {
            guard case .boom(let i) = error else { Issue.record("wrong error \(error)"); return }
            #expect(i % 1_000 == 999)
        }

        #expect(throws: TestError.left) {
            _ = try p.reduce(0) { (a: Int, b: Int) throws(TestError) -> Int in
                // The element is an operand on its own when it starts a piece (perItem: always).
                if a == n / 2 + 7 || b == n / 2 + 7 { throw TestError.left }
                return a &+ b
            }
        }
        #expect(throws: TestError.right) {
            _ = try p.count { (i: Int) throws(TestError) -> Bool in
                if i == n - 1 { throw TestError.right }
                return true
            }
        }
        #expect(throws: TestError.left) {
            _ = try p.first { (i: Int) throws(TestError) -> Bool in
                if i == 5 { throw TestError.left }
                return false
            }
        }
        #expect(throws: TestError.right) {
            _ = try p.min { (a: Int, b: Int) throws(TestError) -> Bool in
                if a == 123 || b == 123 { throw TestError.right }
                return a < b
            }
        }
        #expect(throws: TestError.left) {
            _ = try p.contains { (i: Int) throws(TestError) -> Bool in
                if i == 99 { throw TestError.left }
                return false
            }
        }
    }

    @Test("works from outside the pool, from a worker, on the shared pool, and nested")
    func callers() {
        let data = testData(200_000)
        let expected = data.reduce(0, +)
        #expect(data.parallel(on: pool).sum() == expected)
        #expect(pool.install { data.parallel.sum() } == expected)  // the current worker's pool
        #expect(data.parallel.sum() == expected)  // ThreadPool.shared
        // A loop inside a loop, and inside a join: pending joins and splits meet.
        let nested = (0..<64).parallel(on: pool).map { i in
            data[(i * 1_000)..<(i * 1_000 + 3_000)].parallel(on: pool).sum()
        }.sum()
        #expect(nested == (0..<64).map { i in data[(i * 1_000)..<(i * 1_000 + 3_000)].reduce(0, +) }.reduce(0, +))
        let (left, right) = pool.join({ data.parallel(on: pool).max() }, { data.parallel(on: pool).min() })
        #expect(left == data.max() && right == data.min())
        // Another pool's loop from inside this one.
        let other = try! ThreadPool(threads: 2)
        #expect(pool.install { data.parallel(on: other).sum() } == expected)
        other.shutdown()
    }

    @Test("an adaptive loop spreads over more than one thread (liveness, no timing)")
    func adaptiveSpreads() {
        let seen = Locked<Set<Int>>([])
        let spread = repeatUntil({ seen.withLock { $0.count } > 1 }) {
            (0..<20_000).parallel(on: pool).forEach { i in
                var x = UInt64(i)
                for _ in 0..<200 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
                if x == 42 { print("") }  // keeps the loop from being optimised away
                let me = ThreadPool.currentThreadIndex ?? -1
                seen.withLock { _ = $0.insert(me) }
            }
        }
        #expect(spread)
    }

    @Test("a loop of a few expensive items still spreads (batches start at one item)")
    func fewExpensiveItemsSpread() {
        let seen = Locked<Set<Int>>([])
        let spread = repeatUntil({ seen.withLock { $0.count } > 1 }) {
            _ = (0..<4).parallel(on: pool).map { i -> Int in
                seen.withLock { _ = $0.insert(ThreadPool.currentThreadIndex ?? -1) }
                return fibSequential(24) + i
            }.collect()
        }
        #expect(spread)
    }

    @Test(
        "parallelUpdateEach updates every element once, in place", arguments: [0, 1, 7, isSanitizerRun ? 20_000 : 100_000], allStrategies)
    func updateEach(count: Int, strategy: SplitStrategy) {
        var values = testData(count)
        let expected = values.map { $0 &* 2 &+ 1 }
        values.parallelUpdateEach(on: pool, split: strategy) { $0 = $0 &* 2 &+ 1 }
        #expect(values == expected)

        var strided = Strided(storage: testData(count))
        strided.parallelUpdateEach(on: pool, split: strategy) { $0 = $0 &* 2 &+ 1 }
        #expect(strided.storage == expected)

        var slice = testData(count)[...]
        slice.parallelUpdateEach(split: strategy) { $0 = $0 &* 2 &+ 1 }
        #expect(Array(slice) == expected)
    }

    @Test("parallelUpdateEach rethrows the first error")
    func updateEachError() {
        var values = Array(0..<100_000)
        #expect(throws: TestError.boom(500)) {
            try values.parallelUpdateEach(on: pool) { (x: inout Int) throws(TestError) in
                if x == 500 { throw TestError.boom(500) }
                x += 1
            }
        }
    }

    @Test("split strategies describe themselves")
    func strategyDescriptions() {
        #expect(allStrategies.map(\.description) == ["adaptive", "evenly", "chunks(of: 97)", "perItem"])
        #expect(SplitStrategy.chunks(of: 1) == .perItem)
    }
}
