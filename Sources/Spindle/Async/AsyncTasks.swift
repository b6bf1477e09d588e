/// Async background tasks: an async closure started as a Swift task on the pool (its jobs run on
/// the pool's workers, in the background tier), admitted under `maxPending` like a synchronous
/// task, and holding its place until it *ends*, not only until it starts: a suspended async task
/// still holds its memory, so the bound counts it while it lives. A flood of
/// `submitAwaitingCapacity { await … }` therefore keeps at most `maxPending` Swift tasks alive.

extension ThreadPool {
    /// Starts `work` as an async task on the pool and returns at once.
    ///
    /// ```swift
    /// try pool.spawn { await notify(subscriber) }
    /// ```
    /// The task runs as a Swift task whose jobs run on this pool (like
    /// `Task(executorPreference: pool)`); it inherits the caller's priority and task-local values,
    /// not its cancellation. It holds one of the `maxPending` places until it ends.
    /// - Parameter timeout: how long the task may run before it is cancelled (see
    ///   ``Configuration/taskTimeout``).
    /// - Throws: `ThreadPoolError.shutDown` after shutdown; `.saturated` when `maxPending` tasks
    ///   are accepted and not yet ended.
    public func spawn(
        timeout: TaskTimeout = .configured, _ work: @escaping @Sendable () async -> Void
    ) throws(ThreadPoolError) {
        try registry.tryAdmit { place in startSpawnedTask(keeping: place, timeout, work) }
    }

    /// Starts `work` as an async task on the pool and returns a handle to its result.
    ///
    /// ```swift
    /// let handle = try pool.submit { try await fetch(url) }
    /// let page = try await handle.value(timeout: .seconds(5))
    /// ```
    /// The handle behaves as for a synchronous task, with these differences:
    /// - ``TaskHandle/cancel()`` also cancels the running Swift task (`Task.isCancelled` becomes
    ///   true in `work`, `Task.sleep` throws); before the task starts it still means the body
    ///   never runs.
    /// - ``TaskHandle/wait()`` only waits: it cannot run an async body inline. Do not call it
    ///   from the pool's own workers, which the task needs.
    /// - Parameter timeout: how long the task may run before it is cancelled; its handle then
    ///   reports ``ThreadPoolError/taskTimedOut(after:)`` (see ``Configuration/taskTimeout``).
    /// - Throws: `ThreadPoolError.shutDown` after shutdown; `.saturated` at `maxPending`.
    public func submit<T: Sendable>(
        timeout: TaskTimeout = .configured, _ work: @escaping @Sendable () async throws -> T
    ) throws(ThreadPoolError) -> TaskHandle<T> {
        let task = makeAsyncTaskState(T.self, timeout)
        try registry.tryAdmit { place in startAsyncTask(task, holding: place, work) }
        return TaskHandle(task: task)
    }

    /// Starts `work` as an async task on the pool, first waiting (suspended) while `maxPending`
    /// tasks are accepted and not yet ended.
    ///
    /// ```swift
    /// for id in ids {
    ///     try await pool.spawnAwaitingCapacity { await refresh(id) }   // at most maxPending alive
    /// }
    /// ```
    /// - Throws: `ThreadPoolError.shutDown` if the pool is or gets shut down before the task is
    ///   accepted; `CancellationError` if the awaiting task is cancelled first (the work then
    ///   never runs).
    public func spawnAwaitingCapacity(
        timeout: TaskTimeout = .configured, _ work: @escaping @Sendable () async -> Void
    ) async throws {
        try await registry.admitWaitingForRoom { place in self.startSpawnedTask(keeping: place, timeout, work) }
    }

    /// Starts `work` as an async task on the pool and returns a handle to its result, first
    /// waiting (suspended) while `maxPending` tasks are accepted and not yet ended.
    ///
    /// ```swift
    /// var handles: [TaskHandle<Int>] = []
    /// for url in urls {
    ///     handles.append(try await pool.submitAwaitingCapacity { try await size(of: url) })
    /// }
    /// let sizes = try await handles.values()
    /// ```
    /// - Throws: as `spawnAwaitingCapacity(timeout:_:)`.
    public func submitAwaitingCapacity<T: Sendable>(
        timeout: TaskTimeout = .configured, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> TaskHandle<T> {
        let task = makeAsyncTaskState(T.self, timeout)
        try await registry.admitWaitingForRoom { place in self.startAsyncTask(task, holding: place, work) }
        return TaskHandle(task: task)
    }

    /// Starts the Swift task of an admitted `spawn`: no handle, so no shared state; the task
    /// gives its place back itself as it ends (inside the admission, as `startAsyncTask`).
    private func startSpawnedTask(
        keeping place: consuming PendingPlace, _ timeout: TaskTimeout, _ work: @escaping @Sendable () async -> Void
    ) {
        place.keep()
        let registry = self.registry
        let limit = timeout.resolved(registry.configuration.taskTimeout)
        Task(executorPreference: self) {
            registry.record(TaskOutcome(await runUnderTimeout(work, limit: limit, registry: registry)))
            registry.pendingPlaces.giveBackKept()  // exactly once, as the task ends
        }
    }

    private func makeAsyncTaskState<T>(_: T.Type, _ timeout: TaskTimeout) -> TaskState<T> {
        TaskState<T>(asyncOn: registry, timeout: timeout.resolved(registry.configuration.taskTimeout))
    }

    /// Starts the Swift task of an admitted async task (inside the admission, so a closing pool
    /// waits for it; the task's first job enters the pool through its executor).
    private func startAsyncTask<T>(
        _ task: TaskState<T>, holding place: consuming PendingPlace, _ work: @escaping @Sendable () async throws -> T
    ) {
        task.holdPlace(place)
        task.attach(Task(executorPreference: self) { await task.runAsync(work) })
    }
}
