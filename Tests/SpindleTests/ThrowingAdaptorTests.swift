import Testing
@testable import Spindle

struct ParseFailure: Error, Equatable {
    let position: Int
    let text: String
}

/// Parses `"n"` into n; throws for the texts listed as bad.
@Sendable func parseNumber(_ text: String, bad: Set<String>) throws(ParseFailure) -> Int {
    if bad.contains(text) { throw ParseFailure(position: numberIn(text) ?? -1, text: text) }
    return numberIn(text)!
}

/// The decimal number after the first character of `text`, read byte by byte. Not
/// `Int(text.dropFirst())`: in a debug build that looks up generic metadata under one of the
/// runtime's locks on every call, and three threads parsing at once spent most of this suite's
/// sanitizer time contending for it in the kernel (48 of 52 s under the thread sanitizer).
func numberIn(_ text: String) -> Int? {
    var number = 0
    var digits = 0
    var isFirst = true
    for byte in text.utf8 {
        if isFirst {
            isFirst = false
            continue
        }
        guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
        number = number * 10 + Int(byte - UInt8(ascii: "0"))
        digits += 1
    }
    return digits > 0 ? number : nil
}

@Suite("throwing adaptors")
struct ThrowingAdaptorTests {
    /// Fewer under a sanitizer, where every element's parse is instrumented.
    static let count = isSanitizerRun ? 4_000 : largeCount
    static let texts = (0..<count).map { "n\($0)" }

    @Test("map, filter and compactMap with throwing closures give the sequential results", arguments: allStrategies)
    func noErrorSameResults(strategy: SplitStrategy) throws {
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        let texts = Self.texts
        let numbers = texts.parallel(on: pool).split(strategy).map { (text) throws(ParseFailure) in try parseNumber(text, bad: []) }
        #expect(try numbers.collect() == Array(0..<Self.count))
        #expect(try numbers.sum() == (0..<Self.count).reduce(0, +))
        #expect(try numbers.count() == Self.count)
        #expect(try numbers.min() == 0 && numbers.max() == Self.count - 1)
        #expect(try numbers.contains(77))
        #expect(try numbers.first(where: { $0 > 1_000 && $0 % 7 == 0 }) == 1_001)
        #expect(try numbers.reduce(5, +) == (0..<Self.count).reduce(5, +))
        let evens = try texts.parallel(on: pool).split(strategy).filter { try parseNumber($0, bad: []) % 2 == 0 }.collect()
        #expect(evens == texts.filter { numberIn($0)! % 2 == 0 })
        let thirds = try texts.parallel(on: pool).split(strategy)
            .compactMap { (text: String) throws -> Int? in
                let n = try parseNumber(text, bad: [])
                return n % 3 == 0 ? n / 3 : nil
            }
            .collect()
        #expect(thirds == (0..<Self.count).compactMap { $0 % 3 == 0 ? $0 / 3 : nil })
        // A non-throwing stage, then another throwing one, after the first throwing stage.
        let chained = try numbers.map { $0 * 2 }.filter { (n: Int) throws -> Bool in
            if n < 0 { throw ParseFailure(position: n, text: "negative") }
            return n % 4 == 0
        }.count()
        #expect(chained == (0..<Self.count).count(where: { ($0 * 2) % 4 == 0 }))
    }

    @Test("the first error reaches the caller intact, and the rest of the loop stops", arguments: allStrategies)
    func errorStopsTheLoop(strategy: SplitStrategy) throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let evaluated = Counter()
        // The first element throws; every other element waits until that error has stopped
        // the loop (told by a debug hook), so what runs after the stop is the library's doing,
        // not a race with the thrower's thread. The thread that reaches position 0 gets there
        // before any other position of its range, so the waits cannot block the throw.
        let firstError = ParseFailure(position: 0, text: "first element, \(strategy)")  // unique to this case
        let stopped = Flag()
        let pipeline = Self.texts.parallel(on: pool).split(strategy).map { (text) throws(ParseFailure) -> Int in
            evaluated.add()
            if text == "n0" { throw firstError }
            if !waitUntil({ stopped.isSet }) { Issue.record("the loop never stopped") }
            return try parseNumber(text, bad: [])
        }
        _LoopTestHooks.observingStops({ error in if (error as? ParseFailure) == firstError { stopped.set() } }) {
            #expect(throws: firstError) { try pipeline.collect() }
        }
        if strategy != .perItem {  // `.perItem` halves down to single items: every leaf may start before the stop
            // At most the batch each running range had begun: far fewer than half.
            #expect(evaluated.value < Self.count / 2, "\(evaluated.value) of \(Self.count) evaluated after the first element threw")
        }
        // Several throwers: exactly one error, one of theirs.
        let several: Set<String> = ["n10", "n5000", "n19999"]
        do {
            _ = try Self.texts.parallel(on: pool).split(strategy).filter { try parseNumber($0, bad: several) >= 0 }.count()
            Issue.record("no error")
        } catch let failure as ParseFailure {
            #expect(several.contains(failure.text) && failure.position == numberIn(failure.text))
        }
    }

    @Test("a terminal's own closure and a stage may both throw: either error comes back")
    func stageAndTerminalErrors() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let numbers = Self.texts.parallel(on: pool).map { (text) throws(ParseFailure) in try parseNumber(text, bad: ["n123"]) }
        #expect(throws: ParseFailure(position: 123, text: "n123")) { try numbers.forEach { _ in } }
        let clean = Self.texts.parallel(on: pool).map { (text) throws(ParseFailure) in try parseNumber(text, bad: []) }
        #expect(throws: ParseFailure(position: 9, text: "body")) {
            try clean.forEach { n in if n == 9 { throw ParseFailure(position: 9, text: "body") } }
        }
        #expect(throws: ParseFailure(position: 8, text: "predicate")) {
            try clean.count(where: { n in
                if n == 8 { throw ParseFailure(position: 8, text: "predicate") }
                return true
            })
        }
        let made = Counter()
        #expect(throws: ParseFailure(position: 123, text: "n123")) {
            try numbers.forEach(makingState: { made.add() }) { _, _ in }
        }
    }

    @Test("throwing stages over a bridged sequence and from a worker")
    func bridgeAndWorker() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        let texts = Self.texts
        let bridged = ParallelBridge(texts.lazy.map { $0 }, on: pool).map { (text) throws(ParseFailure) in
            try parseNumber(text, bad: ["n1234"])
        }
        #expect(throws: ParseFailure(position: 1234, text: "n1234")) { try bridged.sum() }
        let result = try onWorker(pool) { () -> Result<[Int], any Error> in
            Result { try texts.parallel.map { (text) throws(ParseFailure) in try parseNumber(text, bad: []) }.collect() }
        }
        #expect(try result.get() == Array(0..<Self.count))
    }

    @Test("a non-throwing function or closure still picks the non-throwing adaptor")
    func overloadResolution() {
        @Sendable func triple(_ x: Int) -> Int { x * 3 }
        // These compile without `try`: the pipelines' Failure stays Never.
        let a = (0..<100).parallel.map(triple).sum()
        let b = (0..<100).parallel.map { $0 * 3 }.reduce(0, +)
        let c = (0..<100).parallel.filter { $0 % 2 == 0 }.compactMap { $0 % 4 == 0 ? $0 : nil }.count()
        #expect(a == 14_850 && b == 14_850 && c == 25)
        #expect(type(of: (0..<100).parallel.map(triple)).Failure.self == Never.self)
    }
}
