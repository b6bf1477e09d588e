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
        var iterator = items.makeIterator()
        try await forEachBounded(maxConcurrent: maxConcurrent, next: { iterator.next() }, body)
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
        var iterator = items.makeAsyncIterator()
        try await forEachBounded(maxConcurrent: maxConcurrent, next: { try await iterator.next() }, body)
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
        var iterator = items.makeIterator()
        return try await mapBounded(maxConcurrent: maxConcurrent, next: { iterator.next() }, transform)
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
        var iterator = items.makeAsyncIterator()
        return try await mapBounded(maxConcurrent: maxConcurrent, next: { try await iterator.next() }, transform)
    }

    /// The loop under both `forEach`s: take an element only when fewer than `maxConcurrent`
    /// bodies run, start its body as a child task on this pool; the first error (or the caller's
    /// cancellation) ends the loop, and leaving the group cancels and awaits the rest.
    private func forEachBounded<Element: Sendable>(
        maxConcurrent: Int, next: () async throws -> Element?,
        _ body: @escaping @Sendable (Element) async throws -> Void
    ) async throws {
        guard maxConcurrent >= 1 else { throw ThreadPoolError.invalidMaxConcurrent(maxConcurrent) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            while let item = try await next() {
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

    /// The loop under both `map`s: as `forEachBounded`, with each result stored at its input's
    /// position.
    private func mapBounded<Element: Sendable, T: Sendable>(
        maxConcurrent: Int, next: () async throws -> Element?,
        _ transform: @escaping @Sendable (Element) async throws -> T
    ) async throws -> [T] {
        guard maxConcurrent >= 1 else { throw ThreadPoolError.invalidMaxConcurrent(maxConcurrent) }
        return try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = OrderedResults<T>()
            var inFlight = 0
            var offset = 0
            while let item = try await next() {
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
    func inOrder() -> [T] { slots.map { $0! } }
}
