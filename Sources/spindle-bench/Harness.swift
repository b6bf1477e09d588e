import Foundation

/// Monotonic seconds.
@inline(__always)
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Keeps a value alive and opaque to the optimiser.
@inline(never)
func blackHole<T>(_ x: T) {
    withExtendedLifetime(x) {}
}

/// One contender of a workload: a name and a closure that runs the workload once and returns a
/// checksum (compared against the sequential one, so a wrong answer can never look fast).
struct Contender {
    let name: String
    let run: () -> Int
}

struct Row {
    let workload: String
    let contender: String
    let threads: Int
    let medianSeconds: Double
    let ratio: Double
    let note: String
}

/// Runs contenders alternately: one warm-up round, then `repetitions` rounds, each round running
/// every contender once in turn (so machine noise spreads over all of them).
func measure(workload: String, threads: Int, repetitions: Int, contenders: [Contender]) -> [Row] {
    var times = [[Double]](repeating: [], count: contenders.count)
    var checks = [Int](repeating: 0, count: contenders.count)
    for round in 0...repetitions {
        for (i, c) in contenders.enumerated() {
            let t0 = now()
            let check = c.run()
            let t = now() - t0
            checks[i] = check
            if round > 0 { times[i].append(t) }
        }
    }
    let baseline = median(times[0])
    var rows: [Row] = []
    for (i, c) in contenders.enumerated() {
        let m = median(times[i])
        let note = checks[i] == checks[0] ? "" : "WRONG RESULT (\(checks[i]) vs \(checks[0]))"
        rows.append(
            Row(
                workload: workload, contender: c.name, threads: c.name == "sequential" ? 1 : threads,
                medianSeconds: m, ratio: m / baseline, note: note))
    }
    return rows
}

func formatSeconds(_ s: Double) -> String {
    if s == 0 { return "0 s" }
    if s < 1e-6 { return String(format: "%.0f ns", s * 1e9) }
    if s < 1e-3 { return String(format: "%.2f µs", s * 1e6) }
    if s < 1 { return String(format: "%.2f ms", s * 1e3) }
    return String(format: "%.3f s", s)
}

func printTable(_ rows: [Row]) {
    print(
        "workload".padding(toLength: 24, withPad: " ", startingAt: 0)
            + "contender".padding(toLength: 19, withPad: " ", startingAt: 0)
            + "threads".padding(toLength: 9, withPad: " ", startingAt: 0)
            + "median".padding(toLength: 13, withPad: " ", startingAt: 0) + "ratio vs sequential")
    for r in rows {
        print(
            r.workload.padding(toLength: 24, withPad: " ", startingAt: 0)
                + r.contender.padding(toLength: 19, withPad: " ", startingAt: 0)
                + String(r.threads).padding(toLength: 9, withPad: " ", startingAt: 0)
                + formatSeconds(r.medianSeconds).padding(toLength: 13, withPad: " ", startingAt: 0)
                + (r.ratio.isFinite ? String(format: "%.3f×", r.ratio) : "—") + (r.note.isEmpty ? "" : "  " + r.note))
    }
}

import Spindle

/// Runs `body` on one of the pool's workers while the calling thread sleeps, so that exactly
/// the pool's threads do the work (the way rayon's `install` is measured). Calling `join` from
/// the outside thread instead would add that thread as one more participant.
func onWorker(_ pool: ThreadPool, _ body: @escaping @Sendable () -> Int) -> Int {
    let done = DispatchSemaphore(value: 0)
    let result = Box<Int>()
    try! pool.spawn {
        result.value = body()
        done.signal()
    }
    done.wait()
    return result.value!
}

/// 64 counters, each on its own 128-byte line, written only by the thread of that index.
final class PaddedCounters: @unchecked Sendable {  // each slot has one writer; totals are read after a join point
    private let slots = UnsafeMutablePointer<Int>.allocate(capacity: 64 * 16)

    init() { reset() }
    deinit { slots.deallocate() }

    func reset() { slots.initialize(repeating: 0, count: 64 * 16) }

    @inline(__always)
    func bump(_ index: Int) { slots[index * 16] &+= 1 }

    var total: Int { (0..<64).reduce(0) { $0 + slots[$1 * 16] } }
}

/// `body` on one of the pool's workers; returns the seconds it took there.
func onWorkerTimed(_ pool: ThreadPool, _ body: @escaping @Sendable () -> Void) -> Double {
    let seconds = Box<Double>()
    let done = DispatchSemaphore(value: 0)
    try! pool.spawn {
        let t0 = now()
        body()
        seconds.value = now() - t0
        done.signal()
    }
    done.wait()
    return seconds.value!
}

/// Fixed work: `iterations` rounds of a multiply-xorshift chain the optimiser cannot fold. Give
/// each call its own `seed`: the function is pure, so two calls with the same arguments may be
/// computed once.
@inline(never)
func busyWork(_ iterations: Int, seed: Int = 0) -> Int {
    var x = 0x9E37_79B9_7F4A_7C15 as UInt64 ^ UInt64(truncatingIfNeeded: seed)
    for _ in 0..<iterations {
        x = (x &* 6_364_136_223_846_793_005) &+ 1_442_695_040_888_963_407
        x ^= x >> 29
    }
    return Int(truncatingIfNeeded: x >> 1)
}

/// The `busyWork` iteration count that takes about `seconds` on this thread (median of 5).
func calibratedWork(seconds: Double) -> Int {
    let probe = 2_000_000
    var samples: [Double] = []
    for i in 0..<5 {
        let t0 = now()
        blackHole(busyWork(probe + i))  // a different count each time: a pure call is not hoisted
        samples.append(now() - t0)
    }
    return max(1, Int(Double(probe) * seconds / median(samples)))
}
