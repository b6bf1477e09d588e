import CSpindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a new thread runs, and its name: handed to the thread as one retained object.
private final class ThreadStart {
    let body: @Sendable () -> Void
    let name: String
    init(body: @escaping @Sendable () -> Void, name: String) {
        self.body = body
        self.name = name
    }
}

// Thread entry points live here, nonisolated, never in a `main.swift` (where a closure would be
// inferred `@MainActor`).
#if canImport(Darwin)
    private func threadTrampoline(_ raw: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        let start = Unmanaged<ThreadStart>.fromOpaque(raw).takeRetainedValue()
        spindle_set_thread_name(start.name)
        LiveObjects.created(.thread)
        defer { LiveObjects.destroyed(.thread) }
        start.body()
        return nil
    }
#else
    private func threadTrampoline(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        // SAFETY: `raw` is the +1 `ThreadStart` that `startThread` passed to this thread, taken back once.
        let start = unsafe Unmanaged<ThreadStart>.fromOpaque(raw.unsafelyUnwrapped).takeRetainedValue()
        unsafe spindle_set_thread_name(start.name)
        LiveObjects.created(.thread)
        defer { LiveObjects.destroyed(.thread) }
        start.body()
        return nil
    }
#endif

/// Starts a thread; returns its handle or the error number.
private func startThread(
    name: String, stackSize: Int?, body: @escaping @Sendable () -> Void
) -> Result<pthread_t, ThreadPoolError> {
    var attributes = pthread_attr_t()
    // SAFETY: `attributes` is a local initialised here and destroyed on every path (defer).
    unsafe pthread_attr_init(&attributes)
    defer { unsafe pthread_attr_destroy(&attributes) }
    if let stackSize { unsafe pthread_attr_setstacksize(&attributes, stackSize) }
    // SAFETY: a +1 reference for the new thread, which takes it back once; released below if the thread cannot start.
    let start = unsafe Unmanaged.passRetained(ThreadStart(body: body, name: name)).toOpaque()
    #if canImport(Darwin)
        var handle: pthread_t?
        let result = pthread_create(&handle, &attributes, threadTrampoline, start)
    #else
        var handle = pthread_t()
        let result = unsafe pthread_create(&handle, &attributes, threadTrampoline, start)
    #endif
    guard result == 0 else {
        unsafe Unmanaged<ThreadStart>.fromOpaque(start).release()
        return .failure(.threadCreationFailed(errno: result))
    }
    #if canImport(Darwin)
        return .success(handle!)
    #else
        return .success(handle)
    #endif
}

/// Starts a thread nobody joins (the heartbeat, which signals its own end; an async shutdown's waiter).
func spawnDetachedThread(name: String, body: @escaping @Sendable () -> Void) {
    switch startThread(name: name, stackSize: nil, body: body) {
    case .success(let handle): pthread_detach(handle)
    case .failure(let error): fatalError("Spindle could not start its thread \(name): \(error)")
    }
}

/// A worker thread's handle.
struct WorkerThread: @unchecked Sendable {  // pthread_t is a plain handle, joined or detached once
    let index: Int
    let handle: pthread_t

    static func start(registry: Registry, index: Int) throws(ThreadPoolError) -> WorkerThread {
        let name = workerThreadName(prefix: registry.configuration.threadNamePrefix, index: index)
        switch startThread(name: name, stackSize: registry.configuration.stackSize, body: { Worker.run(registry: registry, index: index) })
        {
        case .success(let handle): return WorkerThread(index: index, handle: handle)
        case .failure(let error): throw error
        }
    }

    /// Joins the thread; detaches it instead if joining is impossible (the caller is that thread).
    func join() {
        if pthread_join(handle, nil) != 0 { pthread_detach(handle) }
    }
    func detach() { pthread_detach(handle) }
}

/// The longest thread name the platform keeps, in bytes (Linux: 16 with the terminating zero).
#if os(Linux)
    let threadNameLimit = 15
#else
    let threadNameLimit = 63
#endif

/// `prefix` followed by `index`, the prefix shortened (at a character boundary) so that the
/// index always fits in the platform's limit: a cut-off index would make workers
/// indistinguishable in `top -H` and debuggers.
func workerThreadName(prefix: String, index: Int) -> String {
    threadName(prefix: prefix, suffix: String(index))
}

/// `prefix` followed by `suffix`, the prefix shortened so that the suffix fits.
func threadName(prefix: String, suffix: String) -> String {
    var kept = Substring(prefix)
    while kept.utf8.count + suffix.utf8.count > threadNameLimit, !kept.isEmpty { kept.removeLast() }
    return kept + suffix
}

/// Monotonic clock in nanoseconds (vDSO, no system call).
func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    // SAFETY: `ts` is a local the call fills in.
    unsafe clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64`'s range (for comparing with `monotonicNanoseconds`).
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflowAgain) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowAgain ? .max : total
    }
}
