import Foundation
import Spindle
import Synchronization

// MARK: fib

func fibSequential(_ n: Int) -> Int {
    n < 2 ? n : fibSequential(n - 1) + fibSequential(n - 2)
}

func fibJoin(_ n: Int, _ pool: ThreadPool) -> Int {
    if n < 2 { return n }
    let (a, b) = pool.join({ fibJoin(n - 1, pool) }, { fibJoin(n - 2, pool) })
    return a + b
}

// MARK: binary tree of heap nodes (parent allocated before its children)

final class Node: @unchecked Sendable {  // children are set once while building, read-only afterwards
    let value: Int
    var left: Node?
    var right: Node?
    init(value: Int) { self.value = value }
}

/// A perfect tree of `2^depth - 1` nodes, allocated in pre-order: a parent before its left
/// subtree, the left subtree before the right (the layout chili and spice use).
func makeTree(depth: Int, next: inout Int) -> Node? {
    if depth == 0 { return nil }
    let node = Node(value: next)
    next += 1
    node.left = makeTree(depth: depth - 1, next: &next)
    node.right = makeTree(depth: depth - 1, next: &next)
    return node
}

func treeSumSequential(_ node: Node?) -> Int {
    guard let node else { return 0 }
    return node.value + treeSumSequential(node.left) + treeSumSequential(node.right)
}

func treeSumJoin(_ node: Node?, _ pool: ThreadPool) -> Int {
    guard let node else { return 0 }
    let (a, b) = pool.join({ treeSumJoin(node.left, pool) }, { treeSumJoin(node.right, pool) })
    return node.value + a + b
}

// MARK: binary tree in one buffer, children by index (no reference counting at all)

struct IndexTree: @unchecked Sendable {  // read-only after construction; freed by `deallocate`
    let left: UnsafeMutableBufferPointer<Int32>
    let right: UnsafeMutableBufferPointer<Int32>
    let value: UnsafeMutableBufferPointer<Int>

    /// Pre-order layout: node 0 is the root, a node's left subtree follows it, then its right.
    init(depth: Int) {
        let n = (1 << depth) - 1
        left = .allocate(capacity: n)
        right = .allocate(capacity: n)
        value = .allocate(capacity: n)
        var next = 0
        func build(_ d: Int) -> Int32 {
            if d == 0 { return -1 }
            let me = next
            next += 1
            value[me] = me
            left[me] = build(d - 1)
            right[me] = build(d - 1)
            return Int32(me)
        }
        _ = build(depth)
    }

    func deallocate() {
        left.deallocate()
        right.deallocate()
        value.deallocate()
    }

    func sumSequential(_ i: Int32) -> Int {
        if i < 0 { return 0 }
        let j = Int(i)
        return value[j] + sumSequential(left[j]) + sumSequential(right[j])
    }

    func sumJoin(_ i: Int32, _ pool: ThreadPool) -> Int {
        if i < 0 { return 0 }
        let j = Int(i)
        let (a, b) = pool.join({ sumJoin(left[j], pool) }, { sumJoin(right[j], pool) })
        return value[j] + a + b
    }

    /// The same through the free function `Spindle.join` (the current worker's pool).
    func sumFreeJoin(_ i: Int32) -> Int {
        if i < 0 { return 0 }
        let j = Int(i)
        let (a, b) = Spindle.join({ sumFreeJoin(left[j]) }, { sumFreeJoin(right[j]) })
        return value[j] + a + b
    }
}

// MARK: quicksort (same algorithm both ways; insertion sort below 32 elements)

struct SortBuffer: @unchecked Sendable {  // disjoint halves are sorted by different threads
    let base: UnsafeMutableBufferPointer<Int>
}

@inline(__always)
func partition(_ a: UnsafeMutableBufferPointer<Int>, _ lo: Int, _ hi: Int) -> Int {
    let mid = lo + (hi - lo) / 2
    // Median of three as pivot.
    if a[mid] < a[lo] { a.swapAt(mid, lo) }
    if a[hi - 1] < a[lo] { a.swapAt(hi - 1, lo) }
    if a[hi - 1] < a[mid] { a.swapAt(hi - 1, mid) }
    let pivot = a[mid]
    var i = lo, j = hi - 1
    while true {
        while a[i] < pivot { i += 1 }
        while a[j] > pivot { j -= 1 }
        if i >= j { return j + 1 }
        a.swapAt(i, j)
        i += 1
        j -= 1
    }
}

func insertionSort(_ a: UnsafeMutableBufferPointer<Int>, _ lo: Int, _ hi: Int) {
    var i = lo + 1
    while i < hi {
        let x = a[i]
        var j = i - 1
        while j >= lo && a[j] > x { a[j + 1] = a[j]; j -= 1 }
        a[j + 1] = x
        i += 1
    }
}

func quicksortSequential(_ a: UnsafeMutableBufferPointer<Int>, _ lo: Int, _ hi: Int) {
    if hi - lo <= 32 { insertionSort(a, lo, hi); return }
    let p = partition(a, lo, hi)
    quicksortSequential(a, lo, p)
    quicksortSequential(a, p, hi)
}

func quicksortJoin(_ s: SortBuffer, _ lo: Int, _ hi: Int, _ pool: ThreadPool) {
    if hi - lo <= 32 { insertionSort(s.base, lo, hi); return }
    let p = partition(s.base, lo, hi)
    _ = pool.join({ quicksortJoin(s, lo, p, pool) }, { quicksortJoin(s, p, hi, pool) })
}

/// Deterministic pseudo-random numbers (xorshift), so every contender sorts the same input.
func randomInts(_ n: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [Int] {
    var x = seed
    return (0..<n).map { _ in
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        return Int(truncatingIfNeeded: x >> 1)
    }
}

func checksum(_ a: UnsafeMutableBufferPointer<Int>) -> Int {
    var h = 0
    var sorted = 1
    for i in 0..<a.count {
        h = h &* 31 &+ a[i]
        if i > 0 && a[i - 1] > a[i] { sorted = 0 }
    }
    return sorted == 1 ? h : -1
}

// MARK: busy work for latency workloads

@inline(never)
func spin(microseconds: Double) {
    let end = now() + microseconds / 1e6
    while now() < end {}
}

// MARK: sum of 10^7 UInt64

struct ReadOnlyBuffer<T>: @unchecked Sendable {  // read-only while shared
    let base: UnsafeBufferPointer<T>
}

func sumSequential(_ a: UnsafeBufferPointer<UInt64>, _ lo: Int, _ hi: Int) -> UInt64 {
    var total: UInt64 = 0
    for i in lo..<hi { total &+= a[i] }
    return total
}

/// Recursive halving with `join` down to 4096 elements (a loop body of 0.3 ns per element is
/// too small to pay even a cheap join each).
func sumJoin(_ a: ReadOnlyBuffer<UInt64>, _ lo: Int, _ hi: Int, _ pool: ThreadPool) -> UInt64 {
    if hi - lo <= 4_096 { return sumSequential(a.base, lo, hi) }
    let mid = lo + (hi - lo) / 2
    let (x, y) = pool.join({ sumJoin(a, lo, mid, pool) }, { sumJoin(a, mid, hi, pool) })
    return x &+ y
}

// MARK: CPU time of this process's threads, by name prefix (Linux /proc)

func threadCPUSeconds(prefix: String) -> Double {
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    var total = 0.0
    for tid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [] {
        guard let comm = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
            comm.hasPrefix(prefix),
            let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
            let tail = stat.split(separator: ")").last
        else { continue }
        let fields = tail.split(separator: " ")
        total += (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    }
    return total / ticks
}

// MARK: parallel iteration workloads

/// Trial division by 2 and the odd numbers up to √n: uneven work per item (a prime near 2·10^6
/// costs about 700 divisions, most composites a handful).
@inline(never)
func isPrimeByTrialDivision(_ n: Int) -> Bool {
    if n < 2 { return false }
    if n % 2 == 0 { return n == 2 }
    var d = 3
    while d * d <= n {
        if n % d == 0 { return false }
        d += 2
    }
    return true
}

/// The cheap per-element transform of the map + collect workload (a multiplicative hash).
@inline(__always)
func mixForMap(_ x: Int) -> Int {
    (x &* 0x9E37_79B9) ^ (x >> 7)
}

/// Sum of `a[lo..<hi]` with the checked `+` of `Sequence.reduce(0, +)`.
func checkedSum(_ a: UnsafeBufferPointer<UInt64>, _ lo: Int, _ hi: Int) -> UInt64 {
    UnsafeBufferPointer(rebasing: a[lo..<hi]).reduce(0, +)
}

/// The process's resident set size now, in bytes (Linux: /proc/self/statm, in pages).
func currentResidentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Runs `body` as the first closure of `depth` nested joins (whose second closures do nothing),
/// so that the offer window is full and the joins inside `body` take the fast path.
func nestedInJoins(_ pool: ThreadPool, _ depth: Int, _ body: () -> Int) -> Int {
    if depth == 0 { return body() }
    return pool.join({ nestedInJoins(pool, depth - 1, body) }, { 0 }).0
}

/// The map-reduce-1e7 row's sequential twin: the loop a user writes.
func mapReduceSequential(_ data: [Int]) -> Int { data.reduce(0) { $0 + $1 * 3 } }

/// The map-reduce-1e7 row's pipeline, as a user writes it.
func mapReduceSpindle(_ data: [Int], _ pool: ThreadPool) -> Int {
    data.parallel(on: pool).map { $0 * 3 }.reduce(0, +)
}

// MARK: image blur

/// One pixel of a 3×3 box blur of a `width`×`height` image, edges clamped. Every contender of
/// the image-blur row computes each pixel with this same expression, so their results are
/// bit-identical.
@inline(__always)
func blurredPixel(_ src: UnsafeBufferPointer<Float>, width: Int, height: Int, x: Int, y: Int) -> Float {
    let up = max(y - 1, 0) * width
    let mid = y * width
    let down = min(y + 1, height - 1) * width
    let left = max(x - 1, 0)
    let right = min(x + 1, width - 1)
    let top = src[up + left] + src[up + x] + src[up + right]
    let centre = src[mid + left] + src[mid + x] + src[mid + right]
    let bottom = src[down + left] + src[down + x] + src[down + right]
    return (top + centre + bottom) * (1 / 9)
}

/// Row `y` of the blurred image, written to `out` (the row's first pixel).
@inline(__always)
func blurRow(_ src: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<Float>, width: Int, height: Int, y: Int) {
    for x in 0..<width { out[x] = blurredPixel(src, width: width, height: height, x: x, y: y) }
}

/// A digest of a blurred image that changes with any pixel: the bit patterns of a few pixels.
func blurDigest(_ image: [Float]) -> Int {
    var digest = image.count
    for i in stride(from: 0, to: image.count, by: image.count / 61) {
        digest = digest &* 31 &+ Int(image[i].bitPattern)
    }
    return digest
}

func blurSequential(_ src: UnsafeBufferPointer<Float>, width: Int, height: Int) -> [Float] {
    Array(unsafeUninitializedCapacity: width * height) { buffer, count in
        for y in 0..<height { blurRow(src, into: buffer.baseAddress! + y * width, width: width, height: height, y: y) }
        count = width * height
    }
}

/// Rows handed to Spindle one at a time, as they are to `concurrentPerform`. `onWorker` runs the
/// loop (only the loop) on a pool worker.
///
/// The image is allocated by the calling thread in every contender. Allocated on a worker, a
/// 64 MiB block comes from glibc's arena for that thread, which maps every block of 32 MiB or
/// more afresh (16,384 page faults per image) where the main thread's arena reuses freed memory:
/// with that, the row measured the allocator's state left by earlier rows, not the scheduler
/// (`perf stat -e page-faults`: +88,000 faults over one `map-collect-5e6` row).
func blurSpindleRows(
    _ src: ReadOnlyBuffer<Float>, width: Int, height: Int, pool: ThreadPool, onWorker runsOnWorker: Bool = false
) -> [Float] {
    Array(unsafeUninitializedCapacity: width * height) { buffer, count in
        let out = SendableBuffer(base: buffer)
        let loop: @Sendable () -> Int = {
            (0..<height).parallel(on: pool).forEach { y in
                blurRow(src.base, into: out.base.baseAddress! + y * width, width: width, height: height, y: y)
            }
            return 0
        }
        _ = runsOnWorker ? onWorker(pool, loop) : loop()
        count = width * height
    }
}

func blurDispatch(_ src: ReadOnlyBuffer<Float>, width: Int, height: Int) -> [Float] {
    Array(unsafeUninitializedCapacity: width * height) { buffer, count in
        let out = SendableBuffer(base: buffer)
        DispatchQueue.concurrentPerform(iterations: height) { y in
            blurRow(src.base, into: out.base.baseAddress! + y * width, width: width, height: height, y: y)
        }
        count = width * height
    }
}
