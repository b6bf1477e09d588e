/// In-place parallel update of the elements of a mutable collection.

extension MutableCollection where Self: RandomAccessCollection, Element: Sendable {
    /// Calls `update` on every element, in place and in parallel, on `pool` (the current worker's
    /// pool, else `ThreadPool.shared`), dividing the elements by `strategy`.
    ///
    /// ```swift
    /// var pixels = image.pixels
    /// pixels.parallelUpdateEach { $0 = $0.gammaCorrected(2.2) }
    /// ```
    /// Each element is passed to `update` exactly once, unless an error stops the loop.
    /// - Throws: the first error `update` throws; the other ranges stop at their next batch, so
    ///   some elements may not have been updated.
    @inlinable
    public mutating func parallelUpdateEach<E: Error>(
        on pool: ThreadPool? = nil,
        split strategy: SplitStrategy = .adaptive,
        _ update: @Sendable (inout Element) throws(E) -> Void
    ) throws(E) {
        try parallelUpdateEach(on: pool, split: strategy) { (_, element) throws(E) in try update(&element) }
    }

    /// Calls `update` with every element's offset (its distance from `startIndex`, as in
    /// `enumerated()`; for an `Array`, its index) and the element, in place and in parallel, on
    /// `pool` (the current worker's pool, else `ThreadPool.shared`), dividing the elements by
    /// `strategy`.
    ///
    /// ```swift
    /// let width = 640, height = 480
    /// var shade = [Float](repeating: 0, count: width * height)
    /// shade.parallelUpdateEach { offset, value in value = Float(offset % width) / Float(width) }
    /// ```
    /// Each element is passed to `update` exactly once, unless an error stops the loop.
    /// - Throws: the first error `update` throws; the other ranges stop at their next batch, so
    ///   some elements may not have been updated.
    @inlinable
    public mutating func parallelUpdateEach<E: Error>(
        on pool: ThreadPool? = nil,
        split strategy: SplitStrategy = .adaptive,
        _ update: @Sendable (_ offset: Int, _ element: inout Element) throws(E) -> Void
    ) throws(E) {
        // SAFETY: the storage stays valid for the whole call (the joins finish inside it); each position is handed to exactly one range, so writes never overlap.
        let done: Result<Void, E>? = unsafe withContiguousMutableStorageIfAvailable { buffer in
            guard let base = buffer.baseAddress else { return .success(()) }
            let target = unsafe _SharedBuffer(base)
            let positions = pool.map { (0..<buffer.count).parallel(on: $0) } ?? (0..<buffer.count).parallel
            return Result { () throws(E) in
                // Unsafe access: each position is handed to exactly one range.
                try positions.split(strategy).forEach { (i) throws(E) in unsafe try update(i, &target.base[i]) }
            }
        }
        if let done {
            try done.get()
            return
        }
        // No contiguous storage: update a copy, then write it back.
        var copy = Array(self)
        defer {
            var i = startIndex
            for element in copy {
                self[i] = element
                formIndex(after: &i)
            }
        }
        try copy.parallelUpdateEach(on: pool, split: strategy, update)
    }
}
