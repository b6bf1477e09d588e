import Testing

@testable import Spindle

/// A sink that records what reaches it: every element with its position, where it asked to
/// stop, and the error a throwing stage reported.
struct RecordingSink<Input>: _ParallelSink {
    var seen: [(position: Int, element: Input)] = []
    /// `consume` returns false once this many elements have arrived.
    let stopAfter: Int
    var stoppedWith: String?

    init(stopAfter: Int = .max) { self.stopAfter = stopAfter }

    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        seen.append((position, element))
        return seen.count < stopAfter
    }

    mutating func _stop(with error: any Error) { stoppedWith = "\(error)" }
}

struct StageError: Error, CustomStringConvertible {
    let position: Int
    var description: String { "stage error at \(position)" }
}

/// Drives `positions` of `pipeline` into two recording sinks, one through `_drive` and one
/// through its range loop, and checks that both saw the same elements, stopped at the same
/// place and recorded the same error.
func expectLoopMatchesDrive<P: ParallelSequence>(
    _ pipeline: P, _ positions: Range<Int>, stopAfter: Int = .max, sourceLocation: SourceLocation = #_sourceLocation
) where P.Element: Equatable {
    var driven = RecordingSink<P.Element>(stopAfter: stopAfter)
    let drivenResult = pipeline._drive(positions, into: &driven)
    var looped = RecordingSink<P.Element>(stopAfter: stopAfter)
    let loop = pipeline._rangeLoop { (sink: inout RecordingSink<P.Element>, position: Int, element: P.Element) in
        sink.consume(position, element)
    }
    let loopedResult = loop(pipeline, &looped, positions)
    #expect(loopedResult == drivenResult, sourceLocation: sourceLocation)
    #expect(looped.seen.map(\.position) == driven.seen.map(\.position), sourceLocation: sourceLocation)
    #expect(looped.seen.map(\.element) == driven.seen.map(\.element), sourceLocation: sourceLocation)
    #expect(looped.stoppedWith == driven.stoppedWith, sourceLocation: sourceLocation)
}

@Suite("range loops")
struct RangeLoopTests {
    /// The loop a thread that took a piece runs (RangeLoop.swift) must be `_drive` exactly: the
    /// same elements, positions, early stop and error report, for every adaptor that builds
    /// its own loop and for the default one.
    @Test("a range loop feeds its sink what _drive feeds it, and stops where _drive stops")
    func loopMatchesDrive() {
        let data = testData(1_000)
        let base = data.parallel
        for (positions, stopAfter) in [(0..<1_000, Int.max), (17..<400, Int.max), (0..<1_000, 5), (250..<251, 1), (3..<3, 1)] {
            expectLoopMatchesDrive(base, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(base.map { $0 &* 3 }, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(base.map { $0 &* 3 }.enumerated().map { $0.offset &+ $0.element }, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(base.filter { $0 % 3 == 0 }, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(base.compactMap { $0 > 0 ? $0 / 2 : nil }, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(base.map { $0 ^ 5 }.filter { $0 & 1 == 0 }.map { $0 &+ 1 }, positions, stopAfter: stopAfter)
            // No contiguous storage: the loop's index path.
            expectLoopMatchesDrive((0..<1_000).parallel.map { $0 &* 7 }, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(Strided(storage: data).parallel, positions, stopAfter: stopAfter)
            // The default loop (through `_drive`): a zip, and chunks.
            expectLoopMatchesDrive(base.zip(data.reversed().parallel).map { $0 &- $1 }, positions, stopAfter: stopAfter)
            expectLoopMatchesDrive(base.chunks(of: 7).map { $0.reduce(0, +) }, positions.clamped(to: 0..<143), stopAfter: stopAfter)
        }
    }

    @Test("a throwing stage's error reaches the sink through the range loop, and the range stops there")
    func throwingStageThroughLoop() {
        let data = testData(1_000)
        let throwing = data.parallel.map { (value: Int) throws -> Int in
            if value == data[600] { throw StageError(position: 600) }
            return value &* 2
        }
        expectLoopMatchesDrive(throwing, 0..<1_000)
        expectLoopMatchesDrive(throwing, 601..<1_000)
        expectLoopMatchesDrive(throwing.filter { $0 > 0 }, 0..<1_000)
    }

    /// The release build keeps a range loop only when it has no context (`capturesNothing`): a
    /// sign that the optimiser specialised every captured closure into it. This pins the
    /// closure layout that check reads.
    @Test("capturesNothing tells a closure with no captures from one with a context")
    func capturesNothing() {
        let literal = _RangeLoopBox<[Int], RecordingSink<Int>> { _, _, positions in positions.isEmpty }
        #expect(literal.capturesNothing)
        let limit = testData(3)[1]
        let capturing = _RangeLoopBox<[Int], RecordingSink<Int>> { pipeline, _, _ in pipeline.count > limit }
        #expect(!capturing.capturesNothing)
        let chain = (0..<10).parallel.map { $0 &+ limit }._rangeLoop {
            (sink: inout RecordingSink<Int>, position: Int, element: Int) in sink.consume(position, element)
        }
        #expect(!_RangeLoopBox(chain).capturesNothing)
    }

    /// Few chunks are folded first come, first served, through the stored fold (the range loop),
    /// on whichever thread takes each: the terminals that have a loop of their own give the
    /// sequential results there, from a worker and from outside the pool.
    @Test("terminals with a range loop give the sequential results when folded as stored closures")
    func terminalsThroughStoredFold() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let data = testData(isSanitizerRun ? 2_003 : 20_003)
        for chunk in [1, 97, 5_000] {
            let p = data.parallel(on: pool).split(.chunks(of: chunk))
            #expect(p.sum() == data.reduce(0, +))
            #expect(p.map { $0 &* 3 }.sum() == data.reduce(0) { $0 + $1 &* 3 })
            #expect(p.min() == data.min())
            #expect(p.map { $0 ^ 0x55 }.max() == data.map { $0 ^ 0x55 }.max())
            #expect(p.map { $0 &* 3 }.collect() == data.map { $0 &* 3 })
            #expect(p.filter { $0 % 3 == 0 }.collect() == data.filter { $0 % 3 == 0 })
            let fromWorker = try pool.submit { p.enumerated().map { $0.offset &* $0.element }.collect() }.wait()
            #expect(fromWorker == data.enumerated().map { $0.offset &* $0.element })
        }
    }
}
