import Testing
@testable import Spindle

/// A random-access mutable collection without contiguous storage (exercises the copy path).
struct Strided: MutableCollection, RandomAccessCollection {
    var storage: [Int]
    var startIndex: Int { 0 }
    var endIndex: Int { storage.count }
    subscript(i: Int) -> Int {
        get { storage[i] }
        set { storage[i] = newValue }
    }
}

@Suite("parallel sort")
struct ParallelSortTests {
    let pool: ThreadPool

    init() throws { pool = try ThreadPool(threads: 3) }

    @Test("sorts like the standard library", arguments: [0, 1, 2, 3, 100, 8_193, 100_000, isSanitizerRun ? 300_000 : 1_000_000])
    func matchesSorted(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) &+ 17)
        var values = (0..<count).map { _ in Int.random(in: -1_000..<1_000, using: &rng) }
        let expected = values.sorted()
        values.parallelSort(on: pool)
        #expect(values == expected)
    }

    @Test("is stable: equal keys keep their order")
    func stable() {
        var rng = SplitMix64(seed: 5)
        var pairs = (0..<(isSanitizerRun ? 100_000 : 200_000)).map { i in (key: Int.random(in: 0..<50, using: &rng), order: i) }
        pairs.parallelSort(on: pool, by: { $0.key < $1.key })
        for i in 1..<pairs.count {
            #expect(
                pairs[i - 1].key < pairs[i].key
                    || (pairs[i - 1].key == pairs[i].key && pairs[i - 1].order < pairs[i].order))
            if pairs[i - 1].key > pairs[i].key { break }
        }
        #expect(
            zip(pairs, pairs.dropFirst()).allSatisfy { a, b in
                a.key < b.key || (a.key == b.key && a.order < b.order)
            })
    }

    @Test("sorts reference-counted elements, descending, and slices in place")
    func strings() {
        var words = (0..<50_000).map { "w\(($0 &* 7919) % 50_000)" }
        let expected = words.sorted(by: >)
        words.parallelSort(on: pool, by: { $0 > $1 })
        #expect(words == expected)

        var numbers = Array((0..<30_000).reversed())
        numbers[10_000..<20_000].parallelSort(on: pool)
        #expect(Array(numbers[10_000..<20_000]) == Array(10_000..<20_000))
        #expect(numbers[0] == 29_999 && numbers[29_999] == 0)
    }

    @Test("a collection without contiguous storage is sorted through a copy")
    func nonContiguous() {
        var rng = SplitMix64(seed: 9)
        var c = Strided(storage: (0..<50_000).map { _ in Int.random(in: 0..<1_000_000, using: &rng) })
        #expect(c.withContiguousMutableStorageIfAvailable { _ in 0 } == nil)
        let expected = c.storage.sorted()
        c.parallelSort(on: pool)
        #expect(c.storage == expected)
    }

    @Test("a throwing comparator's error reaches the caller; no element is lost or duplicated")
    func throwingComparator() {
        var values = Array((0..<100_000).reversed())
        let calls = Counter()
        do throws(TestError) {
            try values.parallelSort(on: pool) { (a: Int, b: Int) throws(TestError) -> Bool in
                if calls.add() == 50_000 { throw .boom(1) }
                return a < b
            }
            Issue.record("parallelSort did not throw")
        } catch {
            #expect(error == .boom(1))
        }
        #expect(values.sorted() == Array(0..<100_000))
    }

    @Test("without a pool argument, uses the current worker's pool or the shared pool")
    func defaultPool() throws {
        var outside = Array((0..<20_000).reversed())
        outside.parallelSort()
        #expect(outside == Array(0..<20_000))
        let sorted = try pool.submit { () -> Bool in
            var inside = Array((0..<20_000).reversed())
            inside.parallelSort()
            return inside == Array(0..<20_000)
        }.wait()
        #expect(sorted)
    }
}
