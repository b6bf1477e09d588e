#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Plain pthreads for the issuing threads and the watchdog: threads that belong to no pool and
/// to no Swift executor, which is what "a caller outside the pool" means. The entry point is a
/// nonisolated file-scope function (not a closure in main.swift, which would be @MainActor).

/// What a started thread runs.
private final class ThreadStart: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

private func threadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    // Balanced with the `passRetained` in `startThread`.
    let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
    start.body()
    return nil
}

/// A started thread, to be joined.
struct StartedThread: @unchecked Sendable {  // a pthread handle is an opaque id, valid on any thread until joined
    let handle: pthread_t

    func join() { pthread_join(handle, nil) }
}

/// Starts a joinable pthread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) -> StartedThread {
    let argument = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    #if canImport(Glibc)
        var handle = pthread_t()
    #else
        var handle: pthread_t?
    #endif
    let rc = pthread_create(&handle, nil, threadEntry, argument)
    guard rc == 0 else { fatalError("spindle-stress: pthread_create failed (\(rc))") }
    #if canImport(Glibc)
        return StartedThread(handle: handle)
    #else
        return StartedThread(handle: handle!)
    #endif
}

/// A one-shot value handed from one thread to another that blocks for it: how an issuing pthread
/// waits for an async operation without being a Swift task itself.
final class Rendezvous<T: Sendable>: @unchecked Sendable {  // `value` under `mutex`; mutex and condition in their own allocations
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: T?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func put(_ v: T) {
        pthread_mutex_lock(mutex)
        value = v
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    func take() -> T {
        pthread_mutex_lock(mutex)
        while value == nil { pthread_cond_wait(condition, mutex) }
        let v = value!
        pthread_mutex_unlock(mutex)
        return v
    }
}

/// Runs `body` in a new unstructured task and blocks the calling thread until it finishes.
/// Only for the issuing pthreads: never from a pool worker or a Swift executor thread.
func blockOn<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let rendezvous = Rendezvous<T>()
    Task { rendezvous.put(await body()) }
    return rendezvous.take()
}

/// Monotonic seconds, for deadlines and the watchdog.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func sleepMicroseconds(_ us: Int) { usleep(UInt32(us)) }

/// Writes `text` and a newline straight to file descriptor `fd` (1 or 2): unbuffered, so nothing
/// is lost when the watchdog ends the process with `_exit`, and no C `FILE` globals are touched.
func writeLine(_ text: String, to fd: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
