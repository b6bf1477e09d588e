import Spindle

// Workloads of the rows for per-thread state, deterministic sums and scans (functions, not
// closures in main.swift's top-level code, which would be main-actor isolated).

// MARK: scan

/// A digest of a scan's result: its length and a few elements spread over it.
func scanDigest(_ sums: [Int]) -> Int {
    sums.isEmpty ? 0 : sums.count &+ sums[0] &+ sums[sums.count / 3] &+ sums[sums.count * 2 / 3] &+ sums[sums.count - 1]
}

/// The inclusive prefix sums (checked `+`), as a hand-written loop.
@inline(never)
func scanSequential(_ data: [Int]) -> [Int] {
    Array(unsafeUninitializedCapacity: data.count) { buffer, count in
        var running = 0
        for i in data.indices {
            running += data[i]
            buffer[i] = running
        }
        count = data.count
    }
}

@inline(never)
func scanSpindle(_ data: [Int], _ pool: ThreadPool) -> [Int] {
    data.parallel(on: pool).reductions(+)
}

// MARK: deterministic Double sums

/// A check that ignores the last bits, in which the adaptive sum may differ.
func roundedCheck(_ sum: Double) -> Int { Int((sum / 1_000).rounded()) }

@inline(never)
func doubleSumSequential(_ data: [Double]) -> Double { data.reduce(0, +) }

@inline(never)
func doubleSumAdaptive(_ data: [Double], _ pool: ThreadPool) -> Double { data.parallel(on: pool).sum() }

@inline(never)
func doubleSumDeterministic(_ data: [Double], _ pool: ThreadPool) -> Double {
    data.parallel(on: pool).split(.deterministic).sum()
}

// MARK: per-thread state

/// The scratch size of the per-thread state row: a 256-bucket histogram.
let histogramBuckets = 256

/// Fills `scratch` (zeroed) with a 64-sample histogram of item `i`'s hash and returns its
/// fullest bucket: an item that needs a scratch buffer.
@inline(__always)
func fullestBucket(_ i: Int, _ scratch: inout [Int]) -> Int {
    var h = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
    for _ in 0..<64 {
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        scratch[Int(h >> 56)] &+= 1
    }
    return scratch.max()!
}

@inline(never)
func histogramsSequential(_ n: Int) -> Int {
    var scratch = [Int](repeating: 0, count: histogramBuckets)
    var total = 0
    for i in 0..<n {
        for b in scratch.indices { scratch[b] = 0 }
        total &+= fullestBucket(i, &scratch)
    }
    return total
}

/// A new scratch array for every item.
@inline(never)
func histogramsPerElement(_ n: Int, _ pool: ThreadPool) -> Int {
    (0..<n).parallel(on: pool).map { i in
        var scratch = [Int](repeating: 0, count: histogramBuckets)
        return fullestBucket(i, &scratch)
    }.reduce(0) { $0 &+ $1 }
}

/// One scratch array per thread (`map(makingState:)`), cleared for every item.
@inline(never)
func histogramsPerThread(_ n: Int, _ pool: ThreadPool) -> Int {
    (0..<n).parallel(on: pool).map(makingState: { [Int](repeating: 0, count: histogramBuckets) }) { scratch, i in
        for b in scratch.indices { scratch[b] = 0 }
        return fullestBucket(i, &scratch)
    }.reduce(0) { $0 &+ $1 }
}

// MARK: bridged sequences

/// A "line" of the bridged-sequence row: the text of a record number.
func bridgeLines(_ n: Int) -> UnfoldSequence<String, Int> {
    sequence(state: 0) { (i: inout Int) -> String? in
        guard i < n else { return nil }
        defer { i += 1 }
        return String(i &* 7_919)
    }
}

/// The per-line work: parse the number, then a few hundred rounds of mixing (a record to check).
@inline(__always)
func lineWork(_ line: String) -> Int {
    var h = UInt64(Int(line) ?? 0)
    for _ in 0..<300 {
        h ^= h >> 31
        h = h &* 0x9E37_79B9_7F4A_7C15
    }
    return Int(truncatingIfNeeded: h >> 40)
}

@inline(never)
func bridgeSequential(_ n: Int) -> Int {
    var total = 0
    for line in bridgeLines(n) { total &+= lineWork(line) }
    return total
}

/// `ParallelBridge`: read in windows while earlier ones are processed.
@inline(never)
func bridgeSpindle(_ n: Int, _ pool: ThreadPool) -> Int {
    ParallelBridge(bridgeLines(n), on: pool).map(lineWork).reduce(0) { $0 &+ $1 }
}

/// The usual workaround: read everything into an array first, then a parallel loop.
@inline(never)
func bridgeCollectFirst(_ n: Int, _ pool: ThreadPool) -> Int {
    Array(bridgeLines(n)).parallel(on: pool).map(lineWork).reduce(0) { $0 &+ $1 }
}

// MARK: blocking sections

/// CPU work of the blocking-section row: one item of a parallel loop.
@inline(__always)
func blockingRowItem(_ i: Int) -> Int {
    var h = UInt64(truncatingIfNeeded: i) | 1
    for _ in 0..<200 {
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
    }
    return Int(truncatingIfNeeded: h >> 48)
}

@inline(never)
func blockingRowSequential(_ n: Int) -> Int {
    var total = 0
    for i in 0..<n { total &+= blockingRowItem(i) }
    return total
}
