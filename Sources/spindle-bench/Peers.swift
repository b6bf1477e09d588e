import Dispatch
import Foundation
import Synchronization

// The code a Swift user would write instead of Spindle, for the same workloads.

/// Runs an async closure from synchronous code and waits for it (for the TaskGroup contenders).
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = Box<T>()
    Task.detached {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

final class Box<T>: @unchecked Sendable {  // written by one task before a semaphore signal, read after the wait
    var value: T?
}

// MARK: fib

func fibDispatch(_ n: Int, cutoff: Int) -> Int {
    if n <= cutoff { return fibSequential(n) }
    let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
    defer { results.deallocate() }
    let out = SendableBuffer(base: results)
    DispatchQueue.concurrentPerform(iterations: 2) { i in
        out.base[i] = fibDispatch(n - 1 - i, cutoff: cutoff)
    }
    return results[0] + results[1]
}

func fibAsync(_ n: Int, cutoff: Int) async -> Int {
    if n <= cutoff { return fibSequential(n) }
    async let a = fibAsync(n - 1, cutoff: cutoff)
    let b = await fibAsync(n - 2, cutoff: cutoff)
    return await a + b
}

struct SendableBuffer<T>: @unchecked Sendable {  // disjoint indices are written by different threads
    let base: UnsafeMutableBufferPointer<T>
}

// MARK: tree sum

func treeSumDispatch(_ node: Node?, depth: Int, cutoffDepth: Int) -> Int {
    guard let node else { return 0 }
    if depth >= cutoffDepth { return treeSumSequential(node) }
    let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
    defer { results.deallocate() }
    let out = SendableBuffer(base: results)
    DispatchQueue.concurrentPerform(iterations: 2) { i in
        out.base[i] = treeSumDispatch(i == 0 ? node.left : node.right, depth: depth + 1, cutoffDepth: cutoffDepth)
    }
    return node.value + results[0] + results[1]
}

func treeSumAsync(_ node: Node?, depth: Int, cutoffDepth: Int) async -> Int {
    guard let node else { return 0 }
    if depth >= cutoffDepth { return treeSumSequential(node) }
    async let a = treeSumAsync(node.left, depth: depth + 1, cutoffDepth: cutoffDepth)
    let b = await treeSumAsync(node.right, depth: depth + 1, cutoffDepth: cutoffDepth)
    return await node.value + a + b
}

// MARK: quicksort

func quicksortDispatch(_ s: SortBuffer, _ lo: Int, _ hi: Int, cutoff: Int) {
    if hi - lo <= cutoff { quicksortSequential(s.base, lo, hi); return }
    let p = partition(s.base, lo, hi)
    DispatchQueue.concurrentPerform(iterations: 2) { i in
        if i == 0 { quicksortDispatch(s, lo, p, cutoff: cutoff) } else { quicksortDispatch(s, p, hi, cutoff: cutoff) }
    }
}

func quicksortAsync(_ s: SortBuffer, _ lo: Int, _ hi: Int, cutoff: Int) async {
    if hi - lo <= cutoff { quicksortSequential(s.base, lo, hi); return }
    let p = partition(s.base, lo, hi)
    async let left: Void = quicksortAsync(s, lo, p, cutoff: cutoff)
    await quicksortAsync(s, p, hi, cutoff: cutoff)
    await left
}

// MARK: a naive pool: one Mutex + condition FIFO shared by N threads

final class NaivePool: @unchecked Sendable {  // `queue` and `stopping` are guarded by `condition`
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    private var threads: [Thread] = []

    init(threads count: Int, name: String = "naive-pool") {
        for _ in 0..<count {
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = name
            threads.append(thread)
            thread.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            if head == queue.count && stopping {
                condition.unlock()
                return
            }
            let job = queue[head]
            head += 1
            if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
            condition.unlock()
            job()
        }
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Counts down to zero; `wait()` returns once every job reported.
final class CountDown: @unchecked Sendable {  // `remaining` is guarded by `condition`
    private let condition = NSCondition()
    private var remaining: Int
    init(_ n: Int) { remaining = n }
    func done() {
        condition.lock()
        remaining -= 1
        if remaining == 0 { condition.broadcast() }
        condition.unlock()
    }
    func wait() {
        condition.lock()
        while remaining > 0 { condition.wait() }
        condition.unlock()
    }
}

/// A new thread per job, joined at the end.
func threadPerJob(_ jobs: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let countDown = CountDown(jobs)
    for i in 0..<jobs {
        let thread = Thread {
            body(i); countDown.done()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    countDown.wait()
}

// MARK: async workloads

/// `count` trivial child tasks in a discarding task group, on whatever executor the caller prefers.
func discardingChildTasks(_ count: Int) async {
    await withDiscardingTaskGroup { group in
        for i in 0..<count {
            group.addTask { blackHole(i) }
        }
    }
}

/// Median latency of `calls` awaited round trips, measured inside one task.
/// As `asyncLatency`, from the main actor: a main-actor task makes the calls while the main
/// thread serves the main queue through its run loop (as an app's main thread does).
@MainActor
func mainActorLatency(calls: Int, _ body: @escaping @MainActor () async throws -> Int) -> Double {
    let result = Box<Double>()
    Task { @MainActor in
        result.value = await medianLatency(calls: calls, body)  // on the main thread, read below on the same thread
    }
    while result.value == nil { _ = RunLoop.main.run(mode: .default, before: Date(timeIntervalSinceNow: 0.001)) }
    return result.value!
}

/// As `asyncLatency`, from a task that prefers `executor` (its calls start on that executor's threads).
func asyncLatency(calls: Int, preferring executor: any TaskExecutor, _ body: @escaping @Sendable () async throws -> Int) -> Double {
    blockingAwait {
        await Task(executorPreference: executor) { await medianLatency(calls: calls, body) }.value
    }
}

func asyncLatency(calls: Int, _ body: @escaping @Sendable () async throws -> Int) -> Double {
    blockingAwait { await medianLatency(calls: calls, body) }
}

/// The median time of one `body()` over `calls` calls, each timed on its own, in the caller's
/// isolation (so that a main-actor caller times main-actor calls).
nonisolated(nonsending) func medianLatency(calls: Int, _ body: () async throws -> Int) async -> Double {
    var samples = [Double]()
    samples.reserveCapacity(calls)
    for _ in 0..<calls {
        let t0 = now()
        _ = try? await body()
        samples.append(now() - t0)
    }
    return median(samples)
}

/// An async function that does not suspend: the floor of any async call (for run-on-pool-batch).
@inline(never)
func plainAsyncCall(_ i: Int) async -> Int { i }
