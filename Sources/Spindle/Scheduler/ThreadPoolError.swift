/// An error reported by Spindle: what went wrong (`code`) and the values involved.
///
/// A struct, not an enum, so that new kinds of error can be added without breaking code that
/// switches over them (the swift-nio convention). Match a kind by its code, or a whole error by
/// value:
///
/// ```swift
/// do {
///     try pool.spawn { work() }
/// } catch ThreadPoolError.Code.saturated {
///     shedLoad()                           // any `maxPending` bound
/// } catch ThreadPoolError.shutDown {
///     return                               // exactly this error
/// } catch {
///     print(error.code, error.limit ?? 0)  // `spawn` throws only ThreadPoolError (typed)
/// }
/// ```
///
/// Which calls throw what: fork-join calls (`join`, `scope`, `install`, `broadcast`, parallel
/// loops) throw only their closures' own errors, typed; calls that can refuse or give up on work
/// (`spawn`, `submit`, `run`, `TaskHandle.value`, resizing and creating pools) throw
/// `ThreadPoolError` for Spindle's reasons — and `any Error` where a closure's error or a
/// `CancellationError` can also come out.
public struct ThreadPoolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of error. New codes may appear in later releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: Hashable, Sendable {
            case invalidThreadCount, invalidHeartbeatInterval, invalidStackSize, invalidMaxPending
            case shutDown, saturated, timedOut, threadCreationFailed, invalidMaxConcurrent
            case sharedPoolIsPerpetual, taskTimedOut, invalidTaskTimeout
            case invalidMaxSpareThreads, invalidSpareThreadIdleTimeout
        }

        let base: Base

        /// A pool needs at least one thread (and at most `maxThreadCount` when resized).
        public static let invalidThreadCount = Code(base: .invalidThreadCount)
        /// The heartbeat interval must be positive.
        public static let invalidHeartbeatInterval = Code(base: .invalidHeartbeatInterval)
        /// The requested worker stack size is below the platform minimum.
        public static let invalidStackSize = Code(base: .invalidStackSize)
        /// `maxPending` must be at least 1 when given.
        public static let invalidMaxPending = Code(base: .invalidMaxPending)
        /// The pool was shut down and accepts no new background work.
        public static let shutDown = Code(base: .shutDown)
        /// `maxPending` background jobs are already waiting to start.
        public static let saturated = Code(base: .saturated)
        /// A wait with a timeout gave up (the task itself goes on).
        public static let timedOut = Code(base: .timedOut)
        /// The operating system refused to start a worker thread.
        public static let threadCreationFailed = Code(base: .threadCreationFailed)
        /// Bounded concurrency needs `maxConcurrent` of at least 1.
        public static let invalidMaxConcurrent = Code(base: .invalidMaxConcurrent)
        /// `ThreadPool.shared` cannot be resized (other code in the process relies on it).
        public static let sharedPoolIsPerpetual = Code(base: .sharedPoolIsPerpetual)
        /// See ``ThreadPoolError/taskTimedOut(after:)``.
        public static let taskTimedOut = Code(base: .taskTimedOut)
        /// See ``ThreadPoolError/invalidTaskTimeout(_:)``.
        public static let invalidTaskTimeout = Code(base: .invalidTaskTimeout)
        /// `maxSpareThreads` must not be negative.
        public static let invalidMaxSpareThreads = Code(base: .invalidMaxSpareThreads)
        /// `spareThreadIdleTimeout` must be positive.
        public static let invalidSpareThreadIdleTimeout = Code(base: .invalidSpareThreadIdleTimeout)

        public var description: String { "\(base)" }

        /// Matches any `ThreadPoolError` with this code: `catch ThreadPoolError.Code.saturated`.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? ThreadPoolError)?.code == code
        }
    }

    /// What went wrong.
    public let code: Code
    /// The value that was rejected: a thread count, `maxPending`, `maxConcurrent` or stack size
    /// in bytes.
    public let rejectedValue: Int?
    /// The limit in effect: the `maxPending` bound that was full, or the platform's minimum
    /// stack size.
    public let limit: Int?
    /// The duration involved: the rejected heartbeat interval, or the timeout that passed.
    public let duration: Duration?
    /// The system's error number (`errno`) when a thread could not be started.
    public let systemErrorNumber: Int32?

    init(
        _ code: Code, rejectedValue: Int? = nil, limit: Int? = nil, duration: Duration? = nil,
        systemErrorNumber: Int32? = nil
    ) {
        self.code = code
        self.rejectedValue = rejectedValue
        self.limit = limit
        self.duration = duration
        self.systemErrorNumber = systemErrorNumber
    }

    /// A pool needs at least one thread; `n` was asked for.
    public static func invalidThreadCount(_ n: Int) -> Self { Self(.invalidThreadCount, rejectedValue: n) }
    /// The heartbeat interval `interval` is not positive.
    public static func invalidHeartbeatInterval(_ interval: Duration) -> Self {
        Self(.invalidHeartbeatInterval, duration: interval)
    }
    /// A stack of `requested` bytes is below the platform's `minimum`.
    public static func invalidStackSize(requested: Int, minimum: Int) -> Self {
        Self(.invalidStackSize, rejectedValue: requested, limit: minimum)
    }
    /// `maxPending` of `n` is below 1.
    public static func invalidMaxPending(_ n: Int) -> Self { Self(.invalidMaxPending, rejectedValue: n) }
    /// The pool was shut down and accepts no new background work.
    public static let shutDown = Self(.shutDown)
    /// `maxPending` background jobs are already waiting to start.
    public static func saturated(maxPending: Int) -> Self { Self(.saturated, limit: maxPending) }
    /// A wait gave up after `timeout` (the task itself goes on).
    public static func timedOut(_ timeout: Duration) -> Self { Self(.timedOut, duration: timeout) }
    /// The system refused to start a worker thread with error number `errno`.
    public static func threadCreationFailed(errno: Int32) -> Self {
        Self(.threadCreationFailed, systemErrorNumber: errno)
    }
    /// `maxConcurrent` of `n` is below 1.
    public static func invalidMaxConcurrent(_ n: Int) -> Self { Self(.invalidMaxConcurrent, rejectedValue: n) }
    /// `ThreadPool.shared` cannot be resized or shut down.
    public static let sharedPoolIsPerpetual = Self(.sharedPoolIsPerpetual)

    /// An async task ran past its timeout (`Configuration.taskTimeout` or the call's own) and was
    /// cancelled: what its handle reports, whatever the cancelled body then returned.
    public static func taskTimedOut(after timeout: Duration) -> Self { Self(.taskTimedOut, duration: timeout) }
    /// A task timeout of `timeout` is not positive.
    public static func invalidTaskTimeout(_ timeout: Duration) -> Self { Self(.invalidTaskTimeout, duration: timeout) }

    /// `maxSpareThreads` of `n` is negative.
    public static func invalidMaxSpareThreads(_ n: Int) -> Self { Self(.invalidMaxSpareThreads, rejectedValue: n) }
    /// A spare thread idle timeout of `timeout` is not positive.
    public static func invalidSpareThreadIdleTimeout(_ timeout: Duration) -> Self {
        Self(.invalidSpareThreadIdleTimeout, duration: timeout)
    }

    /// Matches exactly this error: `catch ThreadPoolError.shutDown`.
    public static func ~= (expected: ThreadPoolError, error: any Error) -> Bool {
        (error as? ThreadPoolError) == expected
    }

    public var description: String {
        let value = rejectedValue ?? 0, limit = limit ?? 0
        let duration = duration ?? .zero
        switch code.base {
        case .invalidThreadCount:
            return "invalid thread count \(value): a ThreadPool needs at least 1 thread (and at most maxThreadCount when resized)"
        case .invalidHeartbeatInterval:
            return "invalid heartbeat interval \(duration): it must be greater than zero"
        case .invalidStackSize:
            return "invalid stack size \(value) bytes: the platform minimum is \(limit) bytes"
        case .invalidMaxPending:
            return "invalid maxPending \(value): it must be at least 1 (or nil for no bound)"
        case .shutDown:
            return "the thread pool is shut down and accepts no new work"
        case .saturated:
            return "the thread pool is saturated: \(limit) background jobs are already waiting (maxPending)"
        case .timedOut:
            return "timed out after \(duration) waiting for a task (the task itself goes on)"
        case .threadCreationFailed:
            return "the system could not start a worker thread (errno \(systemErrorNumber ?? 0))"
        case .invalidMaxConcurrent:
            return "invalid maxConcurrent \(value): at least 1 body must be allowed in flight"
        case .taskTimedOut:
            return "the task ran past its timeout of \(duration) and was cancelled"
        case .invalidTaskTimeout:
            return "invalid task timeout \(duration): it must be greater than zero (or nil for none)"
        case .invalidMaxSpareThreads:
            return "invalid maxSpareThreads \(value): it must be 0 or more (or nil for as many as the pool's threads)"
        case .invalidSpareThreadIdleTimeout:
            return "invalid spare thread idle timeout \(duration): it must be greater than zero"
        case .sharedPoolIsPerpetual:
            return "ThreadPool.shared cannot be resized or shut down: create a ThreadPool of your own to control its width and lifetime"
        }
    }
}
