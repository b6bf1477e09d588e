// spindle-bench: Spindle side by side with the code a Swift user would otherwise write.
// Every figure is a ratio measured in this one run, contenders alternating, median of rounds.
import Dispatch
import Foundation
import Spindle
import Synchronization

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let quick = arguments.contains("--quick")
let threads = Int(option("--threads") ?? "") ?? ThreadPool.usableCoreCount
let filter = option("--filter")
let repetitions = Int(option("--repetitions") ?? "") ?? (quick ? 5 : 9)

if arguments.contains("--help") {
    print("""
    usage: spindle-bench [--quick] [--threads N] [--filter WORKLOAD] [--repetitions N]
           spindle-bench --probe-joins N   (runs N joins on one thread, for allocation counts under valgrind)
    """)
    exit(0)
}

// Allocation probe: run it under `valgrind` with two values of N; the difference in
// "total heap usage" divided by the difference in joins is the allocations per join.
if let probe = option("--probe-joins").flatMap(Int.init) {
    let pool = try ThreadPool(threads: 1)
    let tree = IndexTree(depth: 16)
    let traversals = max(1, probe / 65_535)
    let total = onWorker(pool) {
        var total = 0
        for _ in 0..<traversals { total &+= tree.sumJoin(0, pool) }
        return total
    }
    print("joins: \(traversals * 65_535), checksum \(total)")
    exit(0)
}

var configuration = ThreadPool.Configuration(threads: threads)
if let us = option("--heartbeat-us").flatMap(Int.init) { configuration.heartbeatInterval = .microseconds(us) }
if let spin = option("--spin").flatMap(Int.init) { configuration.spinBeforeSleep = spin }
if arguments.contains("--pin") { configuration.pinning = .cores }
let pool = try ThreadPool(configuration: configuration)
var rows: [Row] = []
func wanted(_ name: String) -> Bool { filter == nil || name.contains(filter!) }

print("spindle-bench — \(Date()) — \(ProcessInfo.processInfo.hostName), usable cores \(ThreadPool.usableCoreCount), pool threads \(threads)")
print("median of \(repetitions) alternating rounds after one warm-up round; ratio = median / median of the first row of its workload")
print("spindle: the work starts on a pool worker (the pool's threads do it all); spindle-outside: called from the main thread, which joins in\n")

for n in quick ? [30] : [30, 32] where wanted("fib-\(n)") {
    rows += measure(workload: "fib-\(n)", threads: threads, repetitions: repetitions, contenders: [
        Contender(name: "sequential") { fibSequential(n) },
        Contender(name: "spindle") { onWorker(pool) { fibJoin(n, pool) } },
    ])
}

if wanted("tree-sum-20") {
    var next = 0
    let root = makeTree(depth: 20, next: &next)
    rows += measure(workload: "tree-sum-20", threads: threads, repetitions: repetitions, contenders: [
        Contender(name: "sequential") { treeSumSequential(root) },
        Contender(name: "spindle") { onWorker(pool) { treeSumJoin(root, pool) } },
        Contender(name: "spindle-outside") { treeSumJoin(root, pool) },
    ])
    let tree = IndexTree(depth: 20)
    rows += measure(workload: "tree-sum-20-indexed", threads: threads, repetitions: repetitions, contenders: [
        Contender(name: "sequential") { tree.sumSequential(0) },
        Contender(name: "spindle") { onWorker(pool) { tree.sumJoin(0, pool) } },
    ])
    tree.deallocate()
}

if wanted("quicksort") {
    let n = 2_000_000
    let input = randomInts(n)
    let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    defer { buffer.deallocate() }
    rows += measure(workload: "quicksort-2e6", threads: threads, repetitions: repetitions, contenders: [
        Contender(name: "sequential") {
            _ = buffer.initialize(from: input)
            quicksortSequential(buffer, 0, n)
            return checksum(buffer)
        },
        Contender(name: "spindle") {
            _ = buffer.initialize(from: input)
            let sortable = SortBuffer(base: buffer)
            return onWorker(pool) { quicksortJoin(sortable, 0, n, pool); return checksum(sortable.base) }
        },
    ])
}

if wanted("spawn") {
    // Each spawned closure bumps a counter of the thread that runs it (one cache line per thread),
    // so the workload measures the spawns, not contention on a shared counter.
    let n = 1_000_000
    let counters = PaddedCounters()
    let work: @Sendable () -> Void = { counters.bump(ThreadPool.currentThreadIndex ?? 63) }
    var result = measure(workload: "spawn-1e6", threads: threads, repetitions: repetitions, contenders: [
        Contender(name: "sequential") {
            counters.reset()
            for _ in 0..<n { work() }
            return counters.total
        },
        Contender(name: "spindle") {
            counters.reset()
            return onWorker(pool) {
                pool.scope { s in for _ in 0..<n { s.spawn(work) } }
                return counters.total
            }
        },
    ])
    result[1] = Row(workload: result[1].workload, contender: result[1].contender, threads: result[1].threads,
                    medianSeconds: result[1].medianSeconds, ratio: result[1].ratio,
                    note: String(format: "%.0f ns per spawn", result[1].medianSeconds / Double(n) * 1e9))
    rows += result
}

/// Latency of single calls: each timed alone, median over `calls`.
func latency(calls: Int, _ body: () -> Void) -> Double {
    var samples = [Double]()
    samples.reserveCapacity(calls)
    for _ in 0..<calls {
        let t0 = now()
        body()
        samples.append(now() - t0)
    }
    return median(samples)
}

if wanted("external-join") {
    // Median latency of one call from a thread outside the pool; the two contenders alternate.
    let calls = quick ? 2_000 : 20_000
    var cp: [Double] = [], sp: [Double] = []
    for _ in 0...repetitions {
        cp.append(latency(calls: calls) { DispatchQueue.concurrentPerform(iterations: 2) { blackHole($0) } })
        sp.append(latency(calls: calls) { _ = pool.join({ blackHole(1) }, { blackHole(2) }) })
    }
    let cpm = median(Array(cp.dropFirst())), spm = median(Array(sp.dropFirst()))
    rows.append(Row(workload: "external-join", contender: "concurrentPerform", threads: threads,
                    medianSeconds: cpm, ratio: 1, note: "per call"))
    rows.append(Row(workload: "external-join", contender: "spindle", threads: threads,
                    medianSeconds: spm, ratio: spm / cpm, note: "per call"))
}

if wanted("busy-join") {
    // Every worker busy with 3 ms background tasks; an outside thread joins two small pieces.
    let piece = 16
    let calls = quick ? 200 : 1_000
    let idle = latency(calls: calls) { _ = pool.join({ fibSequential(piece) }, { fibSequential(piece) }) }
    let stop = Atomic<Bool>(false)
    let feeder = Thread {
        while !stop.load(ordering: .relaxed) {
            for _ in 0..<threads * 2 { try? pool.spawn { spin(microseconds: 3_000) } }
            spin(microseconds: 3_000)
        }
    }
    feeder.start()
    spin(microseconds: 20_000)
    let busy = latency(calls: calls) { _ = pool.join({ fibSequential(piece) }, { fibSequential(piece) }) }
    stop.store(true, ordering: .relaxed)
    rows.append(Row(workload: "busy-join", contender: "spindle-idle-pool", threads: threads,
                    medianSeconds: idle, ratio: 1, note: "per call"))
    rows.append(Row(workload: "busy-join", contender: "spindle-busy-pool", threads: threads,
                    medianSeconds: busy, ratio: busy / idle, note: "per call, workers busy with 3 ms tasks"))
    // Let the queued background tasks drain before anything else is measured.
    let drain = try pool.submit { 0 }
    _ = try drain.wait()
}

printTable(rows)
if arguments.contains("--counters") {
    let c = pool._schedulerCounters
    print("scheduler counters: \(c.promotions) promotions, \(c.steals) steals")
}
