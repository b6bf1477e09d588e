/// Errors reported by `ThreadPool`.
///
/// ```swift
/// do {
///     let pool = try ThreadPool(threads: 0)
/// } catch ThreadPoolError.invalidThreadCount(let n) {
///     print("no pool of \(n) threads")
/// }
/// ```
public enum ThreadPoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A pool needs at least one thread.
    case invalidThreadCount(Int)
    /// The heartbeat interval must be positive.
    case invalidHeartbeatInterval(Duration)
    /// The requested worker stack size is below the platform minimum.
    case invalidStackSize(requested: Int, minimum: Int)
    /// `maxPending` must be at least 1 when given.
    case invalidMaxPending(Int)
    /// The pool was shut down and accepts no new background work.
    case shutDown
    /// `maxPending` background jobs are already waiting to start.
    case saturated(maxPending: Int)
    /// `TaskHandle.value(timeout:)` gave up waiting (the task itself goes on).
    case timedOut(Duration)
    /// The operating system refused to start a worker thread.
    case threadCreationFailed(errno: Int32)
    /// Bounded concurrency needs `maxConcurrent` of at least 1.
    case invalidMaxConcurrent(Int)
    /// `ThreadPool.shared` cannot be resized (other code in the process relies on it).
    case sharedPoolIsPerpetual

    public var description: String {
        switch self {
        case .invalidThreadCount(let n):
            return "invalid thread count \(n): a ThreadPool needs at least 1 thread"
        case .invalidHeartbeatInterval(let d):
            return "invalid heartbeat interval \(d): it must be greater than zero"
        case .invalidStackSize(let requested, let minimum):
            return "invalid stack size \(requested) bytes: the platform minimum is \(minimum) bytes"
        case .invalidMaxPending(let n):
            return "invalid maxPending \(n): it must be at least 1 (or nil for no bound)"
        case .shutDown:
            return "the thread pool is shut down and accepts no new work"
        case .saturated(let max):
            return "the thread pool is saturated: \(max) background jobs are already waiting (maxPending)"
        case .timedOut(let d):
            return "timed out after \(d) waiting for a task (the task itself goes on)"
        case .threadCreationFailed(let e):
            return "the system could not start a worker thread (errno \(e))"
        case .invalidMaxConcurrent(let n):
            return "invalid maxConcurrent \(n): at least 1 body must be allowed in flight"
        case .sharedPoolIsPerpetual:
            return "ThreadPool.shared cannot be resized or shut down: create a ThreadPool of your own to control its width and lifetime"
        }
    }
}
