import Testing
@testable import Spindle

/// Sequential twins of the three scans.
func inclusiveScan<T>(_ values: [T], _ combine: (T, T) -> T) -> [T] {
    var result: [T] = []
    result.reserveCapacity(values.count)
    for value in values { result.append(result.last.map { combine($0, value) } ?? value) }
    return result
}

func scanWithInitial<T>(_ values: [T], _ initial: T, _ combine: (T, T) -> T) -> [T] {
    var result = [initial]
    for value in values { result.append(combine(result.last!, value)) }
    return result
}

@Suite("parallel scan")
struct ScanTests {
    /// Composition of affine maps: associative, not commutative, so any reordering shows.
    static let compose: @Sendable (Affine, Affine) -> Affine = { f, g in Affine(a: f.a &* g.a, b: f.b &* g.a &+ g.b) }

    @Test(
        "reductions and exclusiveReductions match the sequential scans, in order",
        arguments: [0, 1, 2, 3, 16_383, 16_384, 16_385, largeCount + 3], [1, 2, 4])
    func matchesSequential(count: Int, threads: Int) throws {
        let pool = try ThreadPool(threads: threads)
        defer { pool.shutdown() }
        let maps = testData(count).map { Affine(a: $0 | 1, b: $0) }
        let start = Affine(a: 3, b: 5)
        let p = maps.parallel(on: pool)
        let inclusive = inclusiveScan(maps, Self.compose)
        let withInitial = scanWithInitial(maps, start, Self.compose)
        #expect(p.reductions(Self.compose) == inclusive)
        #expect(p.reductions(start, Self.compose) == withInitial)
        #expect(p.exclusiveReductions(start, Self.compose) == Array(withInitial.dropLast()))
        // From a worker, and through a map (which runs twice for the middle blocks' elements).
        let ints = testData(count)
        let mapped = try onWorker(pool) { ints.parallel(on: pool).map { $0 &* 3 }.reductions { $0 &+ $1 } }
        #expect(mapped == inclusiveScan(ints.map { $0 &* 3 }, &+))
    }

    @Test("a scan of class instances releases every element once (no leak, no double free)")
    func ownership() throws {
        final class Box: Sendable {
            let value: Int
            init(_ value: Int) { self.value = value }
        }
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        let boxes = (0..<50_000).map { Box($0) }
        let sums = boxes.parallel(on: pool).reductions { Box($0.value &+ $1.value) }
        #expect(sums.count == boxes.count)
        #expect(sums.last?.value == (0..<50_000).reduce(0, +))
        #expect(sums.map(\.value) == inclusiveScan(boxes.map(\.value), +))
    }
}
