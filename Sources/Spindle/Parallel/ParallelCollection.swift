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
    @usableFromInline let count: Int
    public var _options: _ParallelOptions

    @inlinable
    init(base: Base, pool: ThreadPool?) {
        self.base = base
        count = base.count
        _options = _ParallelOptions(pool: pool, strategy: .adaptive)
    }

    @inlinable
    public var _positionCount: Int { count }

    @inlinable
    @inline(__always)
    public func _element(at position: Int) -> Element {
        base[base.index(base.startIndex, offsetBy: position)]
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
