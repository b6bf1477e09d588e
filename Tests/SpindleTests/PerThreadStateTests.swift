import Synchronization
import Testing
@testable import Spindle

/// A state that notices being used by two ranges at once: `enter` fails if it is already in use.
final class ExclusiveScratch: @unchecked Sendable {  // `inUse` is atomic; `buffer` is only touched between enter and leave
    let inUse = Atomic<Bool>(false)
    var buffer: [Int] = []
    let serial: Int

    init(serial: Int) { self.serial = serial }

    func enter() -> Bool { !inUse.exchange(true, ordering: .acquiring) }
    func leave() { inUse.store(false, ordering: .releasing) }
}

@Suite("per-thread state")
struct PerThreadStateTests {
    @Test(
        "forEach(makingState:) makes at most one state per thread that takes part, used by one range at a time",
        arguments: [1, 7, largeCount], allStrategies + [.deterministic(leafSize: 64)])
    func forEachStates(count: Int, strategy: SplitStrategy) throws {
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        for fromWorker in [false, true] {
            let made = Counter()
            let clashes = Counter()
            let tracker = OnceTracker(count: count)
            let run: @Sendable () -> Void = {
                (0..<count).parallel(on: pool).split(strategy).forEach(makingState: { ExclusiveScratch(serial: made.add()) }) {
                    scratch, i in
                    if !scratch.enter() { clashes.add() }
                    scratch.buffer.append(i)  // a use that the address sanitizer or a clash would catch
                    if scratch.buffer.count > 64 { scratch.buffer.removeAll(keepingCapacity: true) }
                    tracker.mark(i)
                    scratch.leave()
                }
            }
            if fromWorker { try onWorker(pool, run) } else { run() }
            #expect(tracker.total == count && tracker.duplicates == 0 && tracker.missing == 0)
            #expect(clashes.value == 0)
            // Workers plus the calling thread when it is not one of them.
            let bound = fromWorker ? pool.threadCount : pool.threadCount + 1
            #expect(made.value >= 1 && made.value <= bound, "made \(made.value) states, bound \(bound), \(strategy)")
        }
    }

    @Test("map(makingState:) keeps results in order, into collect, reduce and zip")
    func mapStates() throws {
        let pool = try ThreadPool(threads: 3)
        defer { pool.shutdown() }
        let data = testData(largeCount)
        let made = Counter()
        let pipeline = data.parallel(on: pool).map(makingState: { () -> [Int] in
            made.add()
            return []
        }) { scratch, x in
            scratch.removeAll(keepingCapacity: true)
            scratch.append(x)
            scratch.append(x)
            return scratch.reduce(0, +)
        }
        #expect(pipeline.collect() == data.map { 2 * $0 })
        #expect(pipeline.reduce(0, +) == data.reduce(0) { $0 + 2 * $1 })
        #expect(pipeline.filter { $0 > 0 }.count() == data.count(where: { $0 > 0 }))
        // The states belong to the pipeline: three terminals, still at most one per thread.
        #expect(made.value >= 1 && made.value <= pool.threadCount + 1)
        let zipped = data.parallel(on: pool).zip(pipeline).map { $0 + $1 }.collect()
        #expect(zipped == data.map { 3 * $0 })
    }

    @Test("forEach(makingState:) rethrows the first error and stops")
    func statefulErrors() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        #expect(throws: TestError.boom(500)) {
            try (0..<largeCount).parallel(on: pool).forEach(makingState: { 0 }) { (seen: inout Int, i: Int) throws(TestError) in
                seen += 1
                if i == 500 { throw TestError.boom(500) }
            }
        }
    }
}
