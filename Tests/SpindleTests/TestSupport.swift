// Helpers shared by the test files: threads, a semaphore and a lock that the thread sanitizer
// understands (pthread-based: `Synchronization.Mutex` is a PI futex the sanitizer cannot see, and
// libdispatch is not instrumented), counters, and the reference workloads.

import Synchronization
import Testing
@testable import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Errors

enum TestError: Error, Equatable {
    case left
    case right
    case boom(Int)
}

// MARK: - Counters

/// A shared counter.
final class Counter: Sendable {
    private let storage: Atomic<Int>

    init(_ initial: Int = 0) { storage = Atomic(initial) }

    func store(_ value: Int) { storage.store(value, ordering: .sequentiallyConsistent) }

    @discardableResult
    func add(_ n: Int = 1) -> Int {
        storage.wrappingAdd(n, ordering: .sequentiallyConsistent).newValue
    }

    var value: Int { storage.load(ordering: .sequentiallyConsistent) }

    /// Raises the value to `candidate` if it is higher (a running maximum).
    func raise(to candidate: Int) {
        var current = value
        while candidate > current {
            let (exchanged, seen) = storage.compareExchange(expected: current, desired: candidate, ordering: .sequentiallyConsistent)
            if exchanged { return }
            current = seen
        }
    }
}

/// A shared flag.
final class Flag: Sendable {
    private let storage = Atomic<Bool>(false)

    init() {}

    func set() { storage.store(true, ordering: .sequentiallyConsistent) }

    var isSet: Bool { storage.load(ordering: .sequentiallyConsistent) }
}

/// Records which of `count` indices were visited, how often in total, and how many visits hit an
/// index a second time: a per-index bitmap plus a total.
final class OnceTracker: @unchecked Sendable {  // every access goes through the atomics
    let count: Int
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let wordCount: Int
    private let visits = Atomic<Int>(0)
    private let repeats = Atomic<Int>(0)
    private let outOfRange = Atomic<Int>(0)

    init(count: Int) {
        self.count = count
        wordCount = (count + 63) / 64
        words = .allocate(capacity: wordCount)
        for i in 0..<wordCount { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: wordCount)
        words.deallocate()
    }

    func mark(_ index: Int) {
        visits.wrappingAdd(1, ordering: .relaxed)
        guard index >= 0 && index < count else {
            outOfRange.wrappingAdd(1, ordering: .relaxed)
            return
        }
        let bit = UInt64(1) << UInt64(index & 63)
        let old = words[index >> 6].bitwiseOr(bit, ordering: .relaxed).oldValue
        if old & bit != 0 { repeats.wrappingAdd(1, ordering: .relaxed) }
    }

    var total: Int { visits.load(ordering: .sequentiallyConsistent) }
    var duplicates: Int { repeats.load(ordering: .sequentiallyConsistent) }
    var invalid: Int { outOfRange.load(ordering: .sequentiallyConsistent) }

    /// How many indices were never visited.
    var missing: Int {
        var seen = 0
        for i in 0..<wordCount {
            seen += words[i].load(ordering: .sequentiallyConsistent).nonzeroBitCount
        }
        return count - seen
    }
}

// MARK: - A lock and a semaphore on pthreads

/// A value behind a pthread mutex.
final class Locked<Value>: @unchecked Sendable {  // `value` is only touched under `mutex`
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    var snapshot: Value { withLock { $0 } }
}

extension Locked where Value == [String] {
    func append(_ s: String) { withLock { $0.append(s) } }
}

/// A counting semaphore on a pthread mutex and condition variable.
final class TestSemaphore: @unchecked Sendable {  // `count` is only touched under `mutex`
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var count: Int

    init(_ value: Int = 0) {
        count = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func signal(_ n: Int = 1) {
        pthread_mutex_lock(mutex)
        count += n
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func wait() {
        pthread_mutex_lock(mutex)
        while count == 0 { pthread_cond_wait(condition, mutex) }
        count -= 1
        pthread_mutex_unlock(mutex)
    }

    /// Waits at most `seconds`; returns whether the semaphore was taken.
    func wait(timeoutSeconds seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let whole = Int(seconds)
        var nanos = Int(now.tv_nsec) + Int((seconds - Double(whole)) * 1e9)
        var secs = Int(now.tv_sec) + whole + nanos / 1_000_000_000
        nanos %= 1_000_000_000
        if secs < 0 { secs = 0 }
        var deadline = timespec(tv_sec: secs, tv_nsec: nanos)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count == 0 {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT {
                if count == 0 { return false }
            }
        }
        count -= 1
        return true
    }
}

// MARK: - Threads

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

#if canImport(Darwin)
    private func testThreadEntry(_ raw: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
        return nil
    }
#else
    private func testThreadEntry(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }
#endif

/// A plain pthread that is not part of any pool (an "outside" thread).
struct TestThread: @unchecked Sendable {  // a pthread handle, joined or detached once
    #if canImport(Darwin)
        private let handle: pthread_t?
    #else
        private let handle: pthread_t
    #endif

    static func start(_ body: @escaping @Sendable () -> Void) -> TestThread {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        #if canImport(Darwin)
            var handle: pthread_t?
        #else
            var handle = pthread_t()
        #endif
        let rc = pthread_create(&handle, nil, testThreadEntry, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return TestThread(handle: handle)
    }

    func join() {
        #if canImport(Darwin)
            pthread_join(handle!, nil)
        #else
            pthread_join(handle, nil)
        #endif
    }

    func detach() {
        #if canImport(Darwin)
            pthread_detach(handle!)
        #else
            pthread_detach(handle)
        #endif
    }
}

/// Runs `body(i)` for `i` in `0..<count`, each on its own new thread, and waits for all of them.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let threads = (0..<count).map { i in TestThread.start { body(i) } }
    for thread in threads { thread.join() }
}

/// Runs `body` on a new outside thread and waits for it, at most `seconds`. A deadlock becomes a
/// recorded failure instead of a hung test run (the stuck thread is then left behind). This is a
/// liveness guard with a generous limit, never a speed assertion.
@discardableResult
func completes(
    within seconds: Double = 120,
    _ what: String = "the operation",
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () -> Void
) -> Bool {
    let done = TestSemaphore()
    let thread = TestThread.start {
        body()
        done.signal()
    }
    if done.wait(timeoutSeconds: seconds) {
        thread.join()
        return true
    }
    thread.detach()
    Issue.record("\(what) did not complete within \(Int(seconds)) s (deadlock?)", sourceLocation: sourceLocation)
    return false
}

/// Repeats `step` until `condition` holds; false if it still does not after `seconds` (a liveness
/// guard, not a speed assertion).
func repeatUntil(seconds: Double = 60, _ condition: () -> Bool, step: () -> Void) -> Bool {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    while !condition() {
        if ContinuousClock.now > deadline { return condition() }
        step()
    }
    return true
}

/// Waits (sleeping 1 ms at a time) until `condition` holds; false after `seconds`.
func waitUntil(seconds: Double = 60, _ condition: () -> Bool) -> Bool {
    repeatUntil(seconds: seconds, condition) { sleepMilliseconds(1) }
}

func sleepMilliseconds(_ ms: Int) {
    var request = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}

func yieldThread() {
    sched_yield()
}

// MARK: - Workloads

func fibSequential(_ n: Int) -> Int {
    n < 2 ? n : fibSequential(n - 1) + fibSequential(n - 2)
}

/// Fibonacci with a `join` at every level, no sequential cutoff.
func fibJoin(_ pool: ThreadPool, _ n: Int) -> Int {
    if n < 2 { return n }
    let (a, b) = pool.join({ fibJoin(pool, n - 1) }, { fibJoin(pool, n - 2) })
    return a + b
}

/// Fibonacci through `Spindle.join` (the current worker's pool, else the shared pool).
func fibFreeJoin(_ n: Int) -> Int {
    if n < 2 { return n }
    let (a, b) = Spindle.join({ fibFreeJoin(n - 1) }, { fibFreeJoin(n - 2) })
    return a + b
}

/// Fibonacci that alternates between two pools at every level: each pool's threads join into
/// the other one.
func fibPingPong(_ x: ThreadPool, _ y: ThreadPool, _ n: Int) -> Int {
    if n < 2 { return n }
    let (a, b) = x.join({ fibPingPong(y, x, n - 1) }, { fibPingPong(y, x, n - 2) })
    return a + b
}

/// A deterministic pseudo-random generator (SplitMix64), so every run sorts the same input.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs the unstructured tasks that async tests start and then wait for (`eventually`), on
/// threads of their own: on Swift's global executor they could wait minutes for a cooperative
/// thread while other tests (under the thread sanitizer, say) keep those threads busy.
let asyncDriver: ThreadPool = {
    do {
        return try ThreadPool(configuration: .init(threads: 2, threadNamePrefix: "test-driver-"))
    } catch {
        fatalError("no driver pool for async tests: \(error)")
    }
}()
