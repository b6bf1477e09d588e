import Synchronization

extension ThreadPool {
    /// Queues `body` as a background job on every worker of the pool (once per worker, in its
    /// background tier) and returns at once with a handle to the results, in worker order.
    /// The non-blocking counterpart of `broadcast`.
    ///
    /// ```swift
    /// let warmed = try pool.spawnBroadcast { context in warmThreadLocalCache(context.index) }
    /// // … other work …
    /// try warmed.wait()    // or: try await warmed.value
    /// ```
    /// A worker blocked on something of its own still runs its part (nothing else can), so
    /// waiting on the handle from inside the pool cannot deadlock.
    /// - Throws: `ThreadPoolError.shutDown` after shutdown. Parts are not counted against
    ///   `maxPending` (there is exactly one per worker).
    public func spawnBroadcast<T: Sendable>(
        _ body: @escaping @Sendable (BroadcastContext) throws -> T
    ) throws(ThreadPoolError) -> BroadcastHandle<T> {
        let registry = self.registry
        // The number of workers is read under the lifecycle lock, which `resize` changes it under.
        let (state, n) = try registry.lifecycleLock.withLock { () throws(ThreadPoolError) -> (BroadcastState<T>, Int) in
            guard !registry.isShutDown else { throw .shutDown }
            let n = registry.workerCount
            let state = BroadcastState<T>(count: n)
            for index in 0..<n {
                let part = BroadcastSpawnJob(index: index, count: n, body: body, state: state, registry: registry)
                registry.participant(at: index).pointee.backgroundInbox.push(JobRef(heap: part))
            }
            return (state, n)
        }
        registry.sleep.notifyEveryWorker(count: n)
        return BroadcastHandle(state: state, registry: registry)
    }
}

/// A handle to the parts of a `spawnBroadcast`, one per worker.
///
/// ```swift
/// let handle = try pool.spawnBroadcast { $0.index * 10 }
/// let values = try handle.wait()   // [0, 10, 20, …] in worker order
/// ```
public final class BroadcastHandle<T: Sendable>: Sendable {
    let state: BroadcastState<T>
    let registry: Registry

    init(state: BroadcastState<T>, registry: Registry) {
        self.state = state
        self.registry = registry
    }

    /// Whether every part has finished (returned, thrown, or been cancelled by a graceful
    /// shutdown's deadline).
    public var isComplete: Bool { state.event.isSet }

    /// Waits for every part and returns their results in worker order.
    ///
    /// A worker of the pool that waits keeps running its own part meanwhile.
    /// - Throws: the first error in worker order (`CancellationError` for a part cancelled at
    ///   shutdown), after every part has finished.
    @available(*, noasync, message: "wait() blocks its thread; in async code use `try await handle.value`")
    public func wait() throws -> [T] {
        state.event.waitServingInboxes()
        return try state.outcome.get()
    }

    /// Every part's result in worker order, awaited without blocking a thread.
    ///
    /// ```swift
    /// let perWorker = try await pool.spawnBroadcast { _ in collectStatistics() }.value
    /// ```
    /// - Throws: as `wait()`.
    public var value: [T] {
        get async throws {
            defer { sanitizerSeesResumption() }  // the last part may end before the closure returns
            return try await withCheckedThrowingContinuation { continuation in
                state.addAwaiter(continuation)
            }
        }
    }
}

/// Results of the parts of one broadcast spawn; complete when every part has reported.
final class BroadcastState<T: Sendable>: @unchecked Sendable {  // `results`, `remaining` and `awaiters` are guarded by `lock`
    private let lock = FutexLock()
    private var results: [Result<T, any Error>?]
    private var remaining: Int
    private var awaiters: [CheckedContinuation<[T], any Error>] = []
    /// Set once every part has reported (after `results` is complete, under the lock).
    let event = OneShotEvent()

    init(count: Int) {
        results = Array(repeating: nil, count: count)
        remaining = count
    }

    /// Part `index` finished with `result`.
    func complete(_ index: Int, with result: Result<T, any Error>) {
        let finished = lock.withLock { () -> (Result<[T], any Error>, [CheckedContinuation<[T], any Error>])? in
            results[index] = result
            remaining -= 1
            guard remaining == 0 else { return nil }
            let all = awaiters
            awaiters = []
            return (collected, all)
        }
        guard let (outcome, waiting) = finished else { return }
        event.set()
        for continuation in waiting { continuation.resume(with: outcome) }
    }

    /// The results in worker order, or the first error (valid once every part reported).
    var outcome: Result<[T], any Error> { lock.withLock { collected } }

    private var collected: Result<[T], any Error> {
        Result { try results.map { try $0!.get() } }
    }

    func addAwaiter(_ continuation: CheckedContinuation<[T], any Error>) {
        let ready = lock.withLock { () -> Result<[T], any Error>? in
            if remaining == 0 { return collected }
            awaiters.append(continuation)
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }
}

/// One worker's part of a broadcast spawn. Whoever takes it out of the worker's background
/// inbox (the worker, or a graceful shutdown's canceller) reports it, exactly once.
final class BroadcastSpawnJob<T: Sendable>: HeapJob, @unchecked Sendable {  // immutable
    let index: Int
    let count: Int
    let body: @Sendable (BroadcastContext) throws -> T
    let state: BroadcastState<T>
    let registry: Registry

    init(
        index: Int, count: Int, body: @escaping @Sendable (BroadcastContext) throws -> T,
        state: BroadcastState<T>, registry: Registry
    ) {
        self.index = index
        self.count = count
        self.body = body
        self.state = state
        self.registry = registry
        super.init(family: 0, isBackground: true)
    }

    /// Not admitted against `maxPending` (it holds no place); records its own outcome.
    override var recordsOwnOutcome: Bool { true }

    override func execute() {
        let result = Result { try body(BroadcastContext(index: index, threadCount: count)) }
        registry.record(TaskOutcome(result))
        state.complete(index, with: result)
    }

    override func cancelBeforeStart() -> Bool {
        registry.record(.cancelled)
        state.complete(index, with: .failure(CancellationError()))
        return true
    }
}
