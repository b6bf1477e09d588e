/// The bottom of every pipeline: a random-access collection (or a range) read by position.

/// A random-access collection seen as a parallel sequence. Made by `.parallel` or
/// `.parallel(on:)`.
///
/// ```swift
/// let squares = (0..<1_000).parallel.map { $0 * $0 }.collect()
/// let longest = words.parallel(on: pool).max(by: { $0.count < $1.count })
/// ```
public struct ParallelCollection<Base: RandomAccessCollection & Sendable>: IndexedParallelSequence
where Base.Element: Sendable {
    public typealias Element = Base.Element

    @usableFromInline let base: Base
    public var _options: _ParallelOptions

    @inlinable
    init(base: Base, pool: ThreadPool?) {
        self.base = base
        _options = _ParallelOptions(pool: pool, strategy: .adaptive)
    }

    /// O(1) on a random-access collection; not stored, so that the base is two fields (see
    /// `_ParallelOptions`).
    @inlinable
    public var _positionCount: Int { base.count }

    @inlinable
    @inline(__always)
    public func _element(at position: Int) -> Element {
        // Contiguous storage: read without the collection's bounds check (`position` comes from
        // a range split from `0..<count`), as `_drive` does.
        assert(position >= 0 && position < base.count, "position \(position) out of 0..<\(base.count)")
        // SAFETY: `position` is in `0..<count` (see above).
        if let element = base.withContiguousStorageIfAvailable({ unsafe $0[position] }) { return element }
        return base[base.index(base.startIndex, offsetBy: position)]
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        // Contiguous storage (arrays): a buffer loop the optimiser can vectorise.
        let fast = base.withContiguousStorageIfAvailable { buffer -> Bool in
            // SAFETY: positions lie in `0..<count` of the contiguous storage (the range was split from it).
            for p in positions where unsafe !sink.consume(p, buffer[p]) { return false }
            return true
        }
        if let fast { return fast }
        var i = base.index(base.startIndex, offsetBy: positions.lowerBound)
        for p in positions {
            if !sink.consume(p, base[i]) { return false }
            base.formIndex(after: &i)
        }
        return true
    }

    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        { pipeline, sink, positions in
            // As `_drive`, with the collection passed in (RangeLoop.swift). The sink goes in and
            // out of the buffer's closure by value: captured there, it would stay in memory, a
            // running sum loaded and stored at every element.
            let base = pipeline.base
            let fast = base.withContiguousStorageIfAvailable { [sink] buffer -> (Bool, Sink) in
                var running = sink
                // A counted loop: a `for` over a `Range` passed in keeps the range's own checks
                // at every element here, where nothing is known about its bounds.
                var p = positions.lowerBound
                let end = positions.upperBound
                while p < end {
                    // SAFETY: positions lie in `0..<count` of the contiguous storage (the range was split from it).
                    if unsafe !step(&running, p, buffer[p]) { return (false, running) }
                    p &+= 1
                }
                return (true, running)
            }
            if let (completed, running) = fast {
                sink = running
                return completed
            }
            var i = base.index(base.startIndex, offsetBy: positions.lowerBound)
            for p in positions {
                if !step(&sink, p, base[i]) { return false }
                base.formIndex(after: &i)
            }
            return true
        }
    }
}

extension RandomAccessCollection where Self: Sendable, Element: Sendable {
    /// This collection as a parallel sequence on the current worker's pool, or on
    /// `ThreadPool.shared` from any other thread.
    ///
    /// ```swift
    /// let total = prices.parallel.map { $0 * taxRate }.sum()
    /// ```
    @inlinable
    public var parallel: ParallelCollection<Self> {
        ParallelCollection(base: self, pool: nil)
    }

    /// This collection as a parallel sequence on `pool`.
    ///
    /// ```swift
    /// let pool = try ThreadPool(threads: 4)
    /// let primes = (2..<1_000_000).parallel(on: pool).filter(isPrime).collect()
    /// ```
    @inlinable
    public func parallel(on pool: ThreadPool) -> ParallelCollection<Self> {
        ParallelCollection(base: self, pool: pool)
    }
}

// MARK: Indices

extension ParallelCollection {
    /// The index of the first element that satisfies `predicate`, as `Collection.firstIndex(where:)`.
    /// Ranges after a hit stop; ranges before it go on.
    ///
    /// ```swift
    /// let firstGap = timestamps.parallel.firstIndex { $0 > 1_000 }
    /// ```
    @inlinable
    @inline(__always)
    public func firstIndex<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Base.Index? {
        try _firstHit(where: predicate).map { base.index(base.startIndex, offsetBy: $0.position) }
    }

    /// The index of the last element that satisfies `predicate`, as
    /// `BidirectionalCollection.lastIndex(where:)`. Ranges before a hit stop; ranges after it go on.
    ///
    /// ```swift
    /// let lastValid = samples.parallel.lastIndex { !$0.isNaN }
    /// ```
    @inlinable
    @inline(__always)
    public func lastIndex<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Base.Index? {
        try _lastHit(where: predicate).map { base.index(base.startIndex, offsetBy: $0.position) }
    }

    /// The index of the first element equal to `element`.
    ///
    /// ```swift
    /// let slot = ids.parallel.firstIndex(of: wanted)
    /// ```
    @inlinable
    @inline(__always)
    public func firstIndex(of element: Element) -> Base.Index? where Element: Equatable {
        firstIndex(where: { $0 == element })
    }

    /// The index of the last element equal to `element`.
    ///
    /// ```swift
    /// let lastSlot = ids.parallel.lastIndex(of: wanted)
    /// ```
    @inlinable
    @inline(__always)
    public func lastIndex(of element: Element) -> Base.Index? where Element: Equatable {
        lastIndex(where: { $0 == element })
    }
}

// MARK: Chunks

extension ParallelCollection where Base.SubSequence: Sendable {
    /// The collection in contiguous chunks of `size` elements (the last one shorter), each a
    /// slice of the collection: the shape image and signal code hands to `concurrentPerform`
    /// one row or block at a time. A chunk keeps the collection's indices.
    ///
    /// ```swift
    /// let rowSums = values.parallel.chunks(of: 1_024).map { row in row.reduce(0, +) }.collect()
    /// ```
    ///
    /// Each chunk is one element of the parallel sequence, so the split strategy divides chunks,
    /// not elements: the default (adaptive) balances uneven chunks by itself.
    ///
    /// - Precondition: `size >= 1`.
    @inlinable
    public func chunks(of size: Int) -> ParallelChunks<Base> {
        precondition(size >= 1, "chunks(of:) needs a chunk size of at least 1, got \(size)")
        return ParallelChunks(base: base, size: size, options: _options)
    }
}

/// A collection's contiguous chunks, as slices. Made by `chunks(of:)`.
///
/// ```swift
/// let blockMaxima = values.parallel.chunks(of: 4_096).map { $0.max() ?? 0 }.collect()
/// ```
public struct ParallelChunks<Base: RandomAccessCollection & Sendable>: IndexedParallelSequence
where Base.Element: Sendable, Base.SubSequence: Sendable {
    public typealias Element = Base.SubSequence

    @usableFromInline let base: Base
    @usableFromInline let size: Int
    public var _options: _ParallelOptions

    @inlinable
    init(base: Base, size: Int, options: _ParallelOptions) {
        self.base = base
        self.size = size
        _options = options
    }

    @inlinable
    public var _positionCount: Int {
        let count = base.count
        return count / size + (count % size == 0 ? 0 : 1)
    }

    @inlinable
    @inline(__always)
    public func _element(at position: Int) -> Element {
        let lower = position * size
        let upper = Swift.min(lower + size, base.count)
        let start = base.index(base.startIndex, offsetBy: lower)
        return base[start..<base.index(start, offsetBy: upper - lower)]
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        _driveByPosition(positions, into: &sink)
    }
}

// MARK: Strides

/// The elements of an integer stride, by position: what `.parallel` reads from a `StrideTo` or a
/// `StrideThrough` (which are only sequences).
public struct _StrideElements<Element: Strideable & Sendable>: RandomAccessCollection, Sendable
where Element.Stride: BinaryInteger & Sendable {
    /// The first element (nil only when there are none).
    @usableFromInline let start: Element?
    @usableFromInline let step: Element.Stride
    public let count: Int

    @inlinable
    init(start: Element?, step: Element.Stride, count: Int) {
        self.start = start
        self.step = step
        self.count = count
    }

    /// The start, end and step of a stride, read through its mirror (the standard library keeps
    /// its stored properties internal and computes `underestimatedCount` by iterating, O(n)).
    /// Falls back to iterating if the mirror does not have them.
    @usableFromInline
    init<S: Sequence>(_ stride: S, endLabel: String, includesEnd: Bool) where S.Element == Element {
        var start: Element?
        var end: Element?
        var step: Element.Stride?
        for child in Mirror(reflecting: stride).children {
            switch child.label {
            case "from": start = child.value as? Element
            case endLabel: end = child.value as? Element
            case "by": step = child.value as? Element.Stride
            default: break
            }
        }
        guard let start, let end, let step, step != 0 else {
            let elements = Array(stride)
            self.init(
                start: elements.first, step: elements.count > 1 ? elements[0].distance(to: elements[1]) : 1,
                count: elements.count)
            return
        }
        let distance = start.distance(to: end)
        var count: Element.Stride = 0
        if distance == 0 {
            count = includesEnd ? 1 : 0
        } else if (distance > 0) == (step > 0) {
            let (whole, rest) = distance.quotientAndRemainder(dividingBy: step)
            count = whole + (rest != 0 || includesEnd ? 1 : 0)
        }
        guard let exact = Int(exactly: count) else {
            preconditionFailure("a stride of \(count) elements is too long for .parallel")
        }
        self.init(start: start, step: step, count: exact)
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable
    public subscript(position: Int) -> Element {
        precondition(position >= 0 && position < count, "stride position \(position) out of 0..<\(count)")
        return start!.advanced(by: step * Element.Stride(position))
    }
}

extension StrideTo where Element: Sendable, Element.Stride: BinaryInteger & Sendable {
    /// This stride as a parallel sequence on the current worker's pool, or on
    /// `ThreadPool.shared` from any other thread.
    ///
    /// ```swift
    /// let everyFourth = stride(from: 0, to: data.count, by: 4).parallel.count { data[$0] > 0 }
    /// ```
    public var parallel: ParallelCollection<_StrideElements<Element>> {
        ParallelCollection(base: _StrideElements(self, endLabel: "to", includesEnd: false), pool: nil)
    }

    /// This stride as a parallel sequence on `pool`.
    public func parallel(on pool: ThreadPool) -> ParallelCollection<_StrideElements<Element>> {
        ParallelCollection(base: _StrideElements(self, endLabel: "to", includesEnd: false), pool: pool)
    }
}

extension StrideThrough where Element: Sendable, Element.Stride: BinaryInteger & Sendable {
    /// This stride as a parallel sequence on the current worker's pool, or on
    /// `ThreadPool.shared` from any other thread.
    ///
    /// ```swift
    /// let total = stride(from: 10, through: 100, by: 10).parallel.sum()   // 550
    /// ```
    public var parallel: ParallelCollection<_StrideElements<Element>> {
        ParallelCollection(base: _StrideElements(self, endLabel: "through", includesEnd: true), pool: nil)
    }

    /// This stride as a parallel sequence on `pool`.
    public func parallel(on pool: ThreadPool) -> ParallelCollection<_StrideElements<Element>> {
        ParallelCollection(base: _StrideElements(self, endLabel: "through", includesEnd: true), pool: pool)
    }
}
