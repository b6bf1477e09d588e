extension ThreadPool {
    /// How long one background task may run: the pool's ``Configuration/taskTimeout``, no limit,
    /// or a limit of its own.
    ///
    /// ```swift
    /// let handle = try pool.submit(timeout: .after(.seconds(2))) { try await fetch(url) }
    /// ```
    /// What a timeout does differs for async and synchronous tasks: see
    /// ``Configuration/taskTimeout``.
    public struct TaskTimeout: Sendable, Hashable, CustomStringConvertible {
        /// The limit, or nil for none; `configured` resolves to the pool's.
        enum Choice: Sendable, Hashable {
            case configured
            case never
            case after(Duration)
        }

        let choice: Choice

        /// The pool's `Configuration.taskTimeout` (the default).
        public static let configured = Self(choice: .configured)
        /// No limit for this task, whatever the configuration says.
        public static let never = Self(choice: .never)

        /// At most `duration` of running for this task.
        /// - Precondition: `duration` is positive.
        public static func after(_ duration: Duration) -> Self {
            precondition(duration > .zero, "TaskTimeout.after needs a positive duration, got \(duration)")
            return Self(choice: .after(duration))
        }

        public var description: String {
            switch choice {
            case .configured: return "configured"
            case .never: return "never"
            case .after(let duration): return "after \(duration)"
            }
        }

        /// The limit this choice gives on a pool configured with `configured`.
        func resolved(_ configured: Duration?) -> Duration? {
            switch choice {
            case .configured: return configured
            case .never: return nil
            case .after(let duration): return duration
            }
        }
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call.
    init(awaiting work: () async throws -> Success) async {
        do { self = .success(try await work()) } catch { self = .failure(error) }
    }
}

/// Runs an async task's body under its timeout, if it has one: the body's outcome, or
/// `ThreadPoolError.taskTimedOut(after:)` (counted in the pool's metrics) when the timeout passed
/// first and the body was cancelled. Every kind of async task runs its body through this.
func runUnderTimeout<T: Sendable>(
    _ work: @escaping @Sendable () async throws -> T, limit: Duration?, registry: Registry
) async -> Result<T, any Error> {
    guard let limit else { return await Result(awaiting: work) }
    if let finished = await runCancellingAfter(limit, work) { return finished }
    registry.timedOutTasks.wrappingAdd(1, ordering: .relaxed)  // a count
    return .failure(ThreadPoolError.taskTimedOut(after: limit))
}

/// What one child of `runCancellingAfter`'s group reports.
private enum TimedRace<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case expired
    case timerStopped
}

/// Runs `work` in a child task and returns its outcome, or nil when `timeout` passed first: the
/// child is then cancelled and awaited (its outcome dropped), so nothing outlives the call.
/// Whichever of the two children reports first decides; the other is cancelled.
func runCancellingAfter<T: Sendable>(
    _ timeout: Duration, _ work: @escaping @Sendable () async throws -> T
) async -> Result<T, any Error>? {
    await withTaskGroup(of: TimedRace<T>.self) { group in
        group.addTask { .finished(await Result(awaiting: work)) }
        group.addTask {
            do {
                try await Task.sleep(for: timeout)
                return .expired
            } catch {
                return .timerStopped  // cancelled: the work finished first
            }
        }
        var outcome: Result<T, any Error>?
        var decided = false
        while let report = await group.next() {
            switch report {
            case .finished(let result):
                if !decided { outcome = result }
                decided = true
                group.cancelAll()
            case .expired:
                if !decided { group.cancelAll() }
                decided = true
            case .timerStopped:
                break
            }
        }
        return outcome
    }
}
