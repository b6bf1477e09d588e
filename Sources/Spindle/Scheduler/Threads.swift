import CSpindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a new thread runs: a plain function and a retained context pointer.
// @unsafe: a raw context pointer handed to a new thread, which owns it.
@unsafe
private final class ThreadStart {
    let body: (UnsafeMutableRawPointer) -> Void
    let context: UnsafeMutableRawPointer
    let name: String
    init(body: @escaping (UnsafeMutableRawPointer) -> Void, context: UnsafeMutableRawPointer, name: String) {
        // SAFETY: stored for the new thread, which takes the object back once (`threadTrampoline`).
        unsafe self.body = body
        unsafe self.context = context
        unsafe self.name = name
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
        start.body(start.context)
        return nil
    }
#else
    private func threadTrampoline(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        // SAFETY: `raw` is the +1 `ThreadStart` that `startThread` passed to this thread, taken back once.
        let start = unsafe Unmanaged<ThreadStart>.fromOpaque(raw.unsafelyUnwrapped).takeRetainedValue()
        unsafe spindle_set_thread_name(start.name)
        LiveObjects.created(.thread)
        defer { LiveObjects.destroyed(.thread) }
        unsafe start.body(start.context)
        return nil
    }
#endif

/// Starts a thread; returns its handle or the error number.
private func startThread(
    name: String, stackSize: Int?, context: UnsafeMutableRawPointer,
    body: @escaping (UnsafeMutableRawPointer) -> Void
) -> Result<pthread_t, ThreadPoolError> {
    var attributes = pthread_attr_t()
    // SAFETY: `attributes` is a local initialised here and destroyed on every path (defer).
    unsafe pthread_attr_init(&attributes)
    defer { unsafe pthread_attr_destroy(&attributes) }
    if let stackSize { unsafe pthread_attr_setstacksize(&attributes, stackSize) }
    // SAFETY: a +1 reference for the new thread, which takes it back once; released below if the thread cannot start.
    let start = unsafe Unmanaged.passRetained(ThreadStart(body: body, context: context, name: name)).toOpaque()
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

/// Starts a thread nobody joins (the heartbeat, which signals its own end).
func spawnDetachedThread(
    name: String, context: UnsafeMutableRawPointer,
    entry: @escaping (UnsafeMutableRawPointer) -> Void
) {
    // SAFETY: `context` is the caller's +1 reference, passed on to the thread (see `startThread`).
    switch unsafe startThread(name: name, stackSize: nil, context: context, body: entry) {
    case .success(let handle): pthread_detach(handle)
    case .failure(let error): fatalError("Spindle could not start its heartbeat thread: \(error)")
    }
}

/// A worker thread's handle.
struct WorkerThread: @unchecked Sendable {  // pthread_t is a plain handle, joined or detached once
    let index: Int
    let handle: pthread_t

    static func start(registry: Registry, index: Int) throws(ThreadPoolError) -> WorkerThread {
        // SAFETY: a +1 reference taken back once by `workerThreadEntry`, or released below if the thread cannot start.
        let context = unsafe Unmanaged.passRetained(WorkerContext(registry: registry, index: index)).toOpaque()
        let name = workerThreadName(prefix: registry.configuration.threadNamePrefix, index: index)
        switch unsafe startThread(
            name: name, stackSize: registry.configuration.stackSize,
            context: context, body: workerThreadEntry)
        {
        case .success(let handle):
            return WorkerThread(index: index, handle: handle)
        case .failure(let error):
            unsafe Unmanaged<WorkerContext>.fromOpaque(context).release()
            throw error
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

private final class WorkerContext {
    let registry: Registry
    let index: Int
    init(registry: Registry, index: Int) {
        self.registry = registry
        self.index = index
    }
}

private func workerThreadEntry(_ raw: UnsafeMutableRawPointer) {
    // SAFETY: `raw` is the +1 reference `WorkerThread.start` passed to this thread, taken back once.
    let context = unsafe Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
    Worker.run(registry: context.registry, index: context.index)
}

/// Monotonic clock in nanoseconds (vDSO, no system call).
func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    // SAFETY: `ts` is a local the call fills in.
    unsafe clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
