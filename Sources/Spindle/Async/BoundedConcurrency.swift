/// Bounded concurrency over sequences and async sequences: at most `maxConcurrent` bodies in
/// flight, inputs pulled only when a slot is free, every body a child task on the pool.

extension ThreadPool {
    /// Calls `body` on every element of `items`, at most `maxConcurrent` at a time, each in a
    /// child task that runs on this pool.
    ///
    /// ```swift
    /// try await pool.forEach(urls, maxConcurrent: 64) { url in
    ///     let data = try await download(url)
    ///     try await store(data)
    /// }
    /// ```
    /// Elements are taken from `items` only when a slot is free. The first error cancels the
    /// bodies in flight, takes no further element, and is rethrown once they have ended.
    /// Cancelling the calling task does the same (no new body starts).
    /// - Throws: `ThreadPoolError.invalidMaxConcurrent` when `maxConcurrent < 1`; the first
    ///   error of a body; `CancellationError` when the caller was cancelled.
    @concurrent
    public func forEach<S: Sequence>(
        _ items: S, maxConcurrent: Int,
        _ body: @escaping @Sendable (S.Element) async throws -> Void
    ) async throws where S.Element: Sendable {
        guard maxConcurrent >= 1 else { throw ThreadPoolError.invalidMaxConcurrent(maxConcurrent) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for item in items {
                try Task.checkCancellation()
                if inFlight == maxConcurrent {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask(executorPreference: self) { try await body(item) }
                inFlight += 1
            }
            try await group.waitForAll()
        }
    }

    /// Calls `body` on every element of an async sequence, at most `maxConcurrent` at a time, each
    /// in a child task on this pool. The sequence is read only when a slot is free, so an endless
    /// sequence runs in bounded memory.
    ///
    /// ```swift
    /// try await pool.forEach(messages, maxConcurrent: 8) { message in try await process(message) }
    /// ```
    /// - Throws: as `forEach(_:maxConcurrent:_:)` over a `Sequence`, and the sequence's own errors.
    @concurrent
    public func forEach<S: AsyncSequence & Sendable>(
        _ items: S, maxConcurrent: Int,
        _ body: @escaping @Sendable (S.Element) async throws -> Void
    ) async throws where S.Element: Sendable {
        guard maxConcurrent >= 1 else { throw ThreadPoolError.invalidMaxConcurrent(maxConcurrent) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for try await item in items {
                try Task.checkCancellation()
                group.addTask(executorPreference: self) { try await body(item) }
                inFlight += 1
                if inFlight == maxConcurrent {
                    try await group.next()
                    inFlight -= 1
                }
            }
            try await group.waitForAll()
        }
    }

    /// Transforms every element of `items`, at most `maxConcurrent` at a time, each in a child
    /// task on this pool; the results keep the order of `items`.
    ///
    /// ```swift
    /// let thumbnails = try await pool.map(images, maxConcurrent: 8) { image in
    ///     try await makeThumbnail(image)
    /// }
    /// ```
    /// - Throws: as `forEach(_:maxConcurrent:_:)`.
    @concurrent
    public func map<S: Sequence, T: Sendable>(
        _ items: S, maxConcurrent: Int,
        _ transform: @escaping @Sendable (S.Element) async throws -> T
    ) async throws -> [T] where S.Element: Sendable {
        guard maxConcurrent >= 1 else { throw ThreadPoolError.invalidMaxConcurrent(maxConcurrent) }
        return try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = OrderedResults<T>()
            var inFlight = 0
            for (offset, item) in items.enumerated() {
                try Task.checkCancellation()
                if inFlight == maxConcurrent, let (index, value) = try await group.next() {
                    results.store(value, at: index)
                    inFlight -= 1
                }
                group.addTask(executorPreference: self) { (offset, try await transform(item)) }
                inFlight += 1
            }
            while let (index, value) = try await group.next() { results.store(value, at: index) }
            return results.inOrder()
        }
    }

    /// Transforms every element of an async sequence, at most `maxConcurrent` at a time, each in
    /// a child task on this pool; the results keep the order of the sequence.
    ///
    /// ```swift
    /// let parsed = try await pool.map(lines, maxConcurrent: 4) { try parse($0) }
    /// ```
    /// - Throws: as `forEach(_:maxConcurrent:_:)`, and the sequence's own errors.
    @concurrent
    public func map<S: AsyncSequence & Sendable, T: Sendable>(
        _ items: S, maxConcurrent: Int,
        _ transform: @escaping @Sendable (S.Element) async throws -> T
    ) async throws -> [T] where S.Element: Sendable {
        guard maxConcurrent >= 1 else { throw ThreadPoolError.invalidMaxConcurrent(maxConcurrent) }
        return try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = OrderedResults<T>()
            var inFlight = 0
            var offset = 0
            for try await item in items {
                try Task.checkCancellation()
                let index = offset
                offset += 1
                group.addTask(executorPreference: self) { (index, try await transform(item)) }
                inFlight += 1
                if inFlight == maxConcurrent, let (done, value) = try await group.next() {
                    results.store(value, at: done)
                    inFlight -= 1
                }
            }
            while let (index, value) = try await group.next() { results.store(value, at: index) }
            return results.inOrder()
        }
    }
}

/// Results that arrive out of order, stored by input position.
struct OrderedResults<T> {
    private var slots: [T?] = []

    mutating func store(_ value: T, at index: Int) {
        if index >= slots.count { slots.append(contentsOf: repeatElement(nil, count: index + 1 - slots.count)) }
        slots[index] = value
    }

    /// All results, in input order (every slot is filled once the group has finished).
    func inOrder() -> [T] { slots.map { $0.unsafelyUnwrapped } }
}
