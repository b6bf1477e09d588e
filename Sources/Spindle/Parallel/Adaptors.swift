/// Adaptors: lazy stages that transform the elements of a parallel sequence as they flow to a
/// terminal. Each stage is a small value type; nothing runs until a terminal is called.

/// The elements of `Base`, transformed. Made by `map(_:)`.
///
/// ```swift
/// let lengths = words.parallel.map { $0.count }.collect()
/// ```
public struct ParallelMap<Base: ParallelSequence, Element: Sendable>: ParallelSequence, _ParallelStage {
    public typealias Failure = Base.Failure
    public var _base: Base
    @usableFromInline let transform: @Sendable (Base.Element) -> Element

    @inlinable
    init(base: Base, transform: @escaping @Sendable (Base.Element) -> Element) {
        self._base = base
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        var stage = _MapSink(inner: sink, transform: transform)
        defer { sink = stage.inner }
        return _base._drive(positions, into: &stage)
    }

    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        let transform = self.transform
        let baseLoop = _base._rangeLoop { (sink: inout Sink, position: Int, element: Base.Element) -> Bool in
            step(&sink, position, transform(element))
        }
        return { pipeline, sink, positions in baseLoop(pipeline._base, &sink, positions) }
    }
}

extension ParallelMap: IndexedParallelSequence where Base: IndexedParallelSequence {
    @inlinable
    @inline(__always)
    public func _element(at position: Int) -> Element {
        transform(_base._element(at: position))
    }
}

/// The elements of `Base` that satisfy a predicate. Made by `filter(_:)`.
///
/// ```swift
/// let adults = people.parallel.filter { $0.age >= 18 }.collect()
/// ```
public struct ParallelFilter<Base: ParallelSequence>: ParallelSequence, _ParallelStage {
    public typealias Element = Base.Element
    public typealias Failure = Base.Failure
    public var _base: Base
    @usableFromInline let isIncluded: @Sendable (Base.Element) -> Bool

    @inlinable
    init(base: Base, isIncluded: @escaping @Sendable (Base.Element) -> Bool) {
        self._base = base
        self.isIncluded = isIncluded
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        var stage = _FilterSink(inner: sink, isIncluded: isIncluded)
        defer { sink = stage.inner }
        return _base._drive(positions, into: &stage)
    }

    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        let isIncluded = self.isIncluded
        let baseLoop = _base._rangeLoop { (sink: inout Sink, position: Int, element: Element) -> Bool in
            isIncluded(element) ? step(&sink, position, element) : true
        }
        return { pipeline, sink, positions in baseLoop(pipeline._base, &sink, positions) }
    }
}

/// The non-`nil` results of a transform of the elements of `Base`. Made by `compactMap(_:)`.
///
/// ```swift
/// let numbers = lines.parallel.compactMap { Int($0) }.collect()
/// ```
public struct ParallelCompactMap<Base: ParallelSequence, Element: Sendable>: ParallelSequence, _ParallelStage {
    public typealias Failure = Base.Failure
    public var _base: Base
    @usableFromInline let transform: @Sendable (Base.Element) -> Element?

    @inlinable
    init(base: Base, transform: @escaping @Sendable (Base.Element) -> Element?) {
        self._base = base
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        var stage = _CompactMapSink(inner: sink, transform: transform)
        defer { sink = stage.inner }
        return _base._drive(positions, into: &stage)
    }

    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        let transform = self.transform
        let baseLoop = _base._rangeLoop { (sink: inout Sink, position: Int, element: Base.Element) -> Bool in
            if let output = transform(element) { return step(&sink, position, output) }
            return true
        }
        return { pipeline, sink, positions in baseLoop(pipeline._base, &sink, positions) }
    }
}

/// Pairs of an offset and an element of `Base`. Made by `enumerated()`.
///
/// ```swift
/// let labelled = names.parallel.enumerated().map { "\($0.offset): \($0.element)" }.collect()
/// ```
public struct ParallelEnumerated<Base: IndexedParallelSequence>: IndexedParallelSequence, _ParallelStage {
    public typealias Element = (offset: Int, element: Base.Element)
    public typealias Failure = Base.Failure
    public var _base: Base

    @inlinable
    init(base: Base) { self._base = base }

    @inlinable
    @inline(__always)
    public func _element(at position: Int) -> Element {
        (position, _base._element(at: position))
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        var stage = _EnumeratedSink<Sink, Base.Element>(inner: sink)
        defer { sink = stage.inner }
        return _base._drive(positions, into: &stage)
    }

    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        let baseLoop = _base._rangeLoop { (sink: inout Sink, position: Int, element: Base.Element) -> Bool in
            step(&sink, position, (position, element))
        }
        return { pipeline, sink, positions in baseLoop(pipeline._base, &sink, positions) }
    }
}

/// Pairs of elements of two indexed parallel sequences, as long as the shorter. Made by
/// `zip(_:)`; runs on the pool and strategy of the first.
///
/// ```swift
/// let dot = xs.parallel.zip(ys.parallel).map { $0 * $1 }.sum()
/// ```
public struct ParallelZip<First: IndexedParallelSequence, Second: IndexedParallelSequence>: IndexedParallelSequence {
    public typealias Element = (First.Element, Second.Element)
    @usableFromInline var first: First
    @usableFromInline let second: Second

    @inlinable
    init(first: First, second: Second) {
        self.first = first
        self.second = second
    }

    @inlinable public var _positionCount: Int { Swift.min(first._positionCount, second._positionCount) }
    @inlinable public var _options: _ParallelOptions {
        get { first._options }
        set { first._options = newValue }
    }

    @inlinable
    @inline(__always)
    public func _element(at position: Int) -> Element {
        (first._element(at: position), second._element(at: position))
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        // Both sides are read by position: one plain loop, no sink holding a copy of `second`.
        _driveByPosition(positions, into: &sink)
    }
}

/// The results of a throwing transform of the elements of `Base`: made by `map`, `filter` and
/// `compactMap` with a closure that throws. Its terminals throw the first error, and every range
/// stops at its next element.
///
/// ```swift
/// let records = try lines.parallel.map { try Record(parsing: $0) }.collect()
/// let valid = try rows.parallel.filter { try $0.validate() }.count()
/// ```
///
/// The pipeline's `Failure` becomes `any Error` (from any closure's error type: several
/// throwing stages may follow each other), so terminals throw untyped.
public struct ParallelThrowingStage<Base: ParallelSequence, Element: Sendable>: ParallelSequence, _ParallelStage {
    public typealias Failure = any Error
    public var _base: Base
    /// nil drops the element (`filter`, `compactMap`).
    @usableFromInline let transform: @Sendable (Base.Element) throws -> Element?

    @inlinable
    init(base: Base, transform: @escaping @Sendable (Base.Element) throws -> Element?) {
        self._base = base
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        var stage = _ThrowingStageSink(inner: sink, transform: transform)
        defer { sink = stage.inner }
        return _base._drive(positions, into: &stage)
    }

    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        let transform = self.transform
        let baseLoop = _base._rangeLoop { (sink: inout Sink, position: Int, element: Base.Element) -> Bool in
            do {
                guard let output = try transform(element) else { return true }
                return step(&sink, position, output)
            } catch {
                sink._stop(with: error)  // the loop's first error; every range stops
                return false
            }
        }
        return { pipeline, sink, positions in baseLoop(pipeline._base, &sink, positions) }
    }
}

/// An adaptor over one `base` pipeline: its positions and options are the base's.
public protocol _ParallelStage: ParallelSequence {
    associatedtype Base: ParallelSequence
    var _base: Base { get set }
}

extension _ParallelStage {
    @inlinable public var _positionCount: Int { _base._positionCount }
    @inlinable public var _bridge: _SequenceBridgeBase? { _base._bridge }
    @inlinable public var _options: _ParallelOptions {
        get { _base._options }
        set { _base._options = newValue }
    }
}

// The non-throwing adaptors are declared once for each kind of pipeline, beside the throwing
// ones: in the same constrained extension, the non-throwing overload is the more specialised
// one and wins for a closure or a function that does not throw (in an unconstrained extension it
// lost to the constrained throwing one when given a function reference: `map(square)`).
extension ParallelSequence where Failure == Never {
    /// Transforms every element.
    ///
    /// ```swift
    /// let squares = (0..<n).parallel.map { $0 * $0 }.collect()
    /// ```
    @inlinable
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Element) -> T) -> ParallelMap<Self, T> {
        ParallelMap(base: self, transform: transform)
    }

    /// Keeps the elements for which `isIncluded` returns true.
    ///
    /// ```swift
    /// let odd = numbers.parallel.filter { $0 % 2 == 1 }.count()
    /// ```
    @inlinable
    public func filter(_ isIncluded: @escaping @Sendable (Element) -> Bool) -> ParallelFilter<Self> {
        ParallelFilter(base: self, isIncluded: isIncluded)
    }

    /// Transforms every element and keeps the non-`nil` results.
    ///
    /// ```swift
    /// let parsed = fields.parallel.compactMap { Double($0) }.collect()
    /// ```
    @inlinable
    public func compactMap<T: Sendable>(_ transform: @escaping @Sendable (Element) -> T?) -> ParallelCompactMap<Self, T> {
        ParallelCompactMap(base: self, transform: transform)
    }

    /// Transforms every element with a closure that may throw; the pipeline's terminals then
    /// throw its first error.
    ///
    /// ```swift
    /// let numbers = try fields.parallel.map { try parseNumber($0) }.collect()
    /// ```
    @inlinable
    public func map<T: Sendable, E: Error>(_ transform: @escaping @Sendable (Element) throws(E) -> T) -> ParallelThrowingStage<Self, T> {
        ParallelThrowingStage(base: self, transform: { element in try transform(element) })
    }

    /// Keeps the elements for which a predicate that may throw returns true; the pipeline's
    /// terminals then throw its first error.
    ///
    /// ```swift
    /// let valid = try rows.parallel.filter { try $0.validate() }.count()
    /// ```
    @inlinable
    public func filter<E: Error>(_ isIncluded: @escaping @Sendable (Element) throws(E) -> Bool) -> ParallelThrowingStage<Self, Element> {
        ParallelThrowingStage(base: self, transform: { element in try isIncluded(element) ? element : nil })
    }

    /// Transforms every element with a closure that may throw and keeps the non-`nil`
    /// results; the pipeline's terminals then throw its first error.
    ///
    /// ```swift
    /// let images = try paths.parallel.compactMap { try loadImage(at: $0) }.collect()
    /// ```
    @inlinable
    public func compactMap<T: Sendable, E: Error>(
        _ transform: @escaping @Sendable (Element) throws(E) -> T?
    )
        -> ParallelThrowingStage<Self, T>
    {
        ParallelThrowingStage(base: self, transform: { element in try transform(element) })
    }
}

extension ParallelSequence where Failure == any Error {
    /// Transforms every element (after a throwing stage).
    ///
    /// ```swift
    /// let squares = (0..<n).parallel.map { $0 * $0 }.collect()
    /// ```
    @inlinable
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Element) -> T) -> ParallelMap<Self, T> {
        ParallelMap(base: self, transform: transform)
    }

    /// Keeps the elements for which `isIncluded` returns true (after a throwing stage).
    ///
    /// ```swift
    /// let odd = numbers.parallel.filter { $0 % 2 == 1 }.count()
    /// ```
    @inlinable
    public func filter(_ isIncluded: @escaping @Sendable (Element) -> Bool) -> ParallelFilter<Self> {
        ParallelFilter(base: self, isIncluded: isIncluded)
    }

    /// Transforms every element and keeps the non-`nil` results (after a throwing stage).
    ///
    /// ```swift
    /// let parsed = fields.parallel.compactMap { Double($0) }.collect()
    /// ```
    @inlinable
    public func compactMap<T: Sendable>(_ transform: @escaping @Sendable (Element) -> T?) -> ParallelCompactMap<Self, T> {
        ParallelCompactMap(base: self, transform: transform)
    }

    /// Transforms every element with a closure that may throw, after an earlier throwing stage.
    ///
    /// ```swift
    /// let totals = try lines.parallel.map { try Record(parsing: $0) }.map { try $0.total() }.collect()
    /// ```
    @inlinable
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Element) throws -> T) -> ParallelThrowingStage<Self, T> {
        ParallelThrowingStage(base: self, transform: { element in try transform(element) })
    }

    /// Keeps the elements for which a predicate that may throw returns true, after an earlier
    /// throwing stage.
    ///
    /// ```swift
    /// let valid = try lines.parallel.map { try Record(parsing: $0) }.filter { try $0.validate() }.collect()
    /// ```
    @inlinable
    public func filter(_ isIncluded: @escaping @Sendable (Element) throws -> Bool) -> ParallelThrowingStage<Self, Element> {
        ParallelThrowingStage(base: self, transform: { element in try isIncluded(element) ? element : nil })
    }

    /// Transforms every element with a closure that may throw and keeps the non-`nil`
    /// results, after an earlier throwing stage.
    ///
    /// ```swift
    /// let ids = try lines.parallel.map { try Record(parsing: $0) }.compactMap { try $0.optionalID() }.collect()
    /// ```
    @inlinable
    public func compactMap<T: Sendable>(_ transform: @escaping @Sendable (Element) throws -> T?) -> ParallelThrowingStage<Self, T> {
        ParallelThrowingStage(base: self, transform: { element in try transform(element) })
    }
}

extension IndexedParallelSequence {
    /// Pairs every element with its offset, as `Sequence.enumerated()` does.
    ///
    /// ```swift
    /// let firstNegative = values.parallel.enumerated().first(where: { $0.element < 0 })?.offset
    /// ```
    @inlinable
    public func enumerated() -> ParallelEnumerated<Self> {
        ParallelEnumerated(base: self)
    }

    /// Pairs the elements of this sequence and `other`, position by position, stopping at the
    /// shorter one. Runs on this sequence's pool and split strategy.
    ///
    /// ```swift
    /// let same = a.parallel.zip(b.parallel).allSatisfy { $0 == $1 }
    /// ```
    @inlinable
    public func zip<Other: IndexedParallelSequence>(_ other: Other) -> ParallelZip<Self, Other> {
        ParallelZip(first: self, second: other)
    }
}

// MARK: The adaptors' sinks: each wraps the sink below it (the terminal's, or the next stage's).

@usableFromInline
struct _MapSink<Inner: _ParallelSink, Input>: _ForwardingSink {
    @usableFromInline var inner: Inner
    @usableFromInline let transform: @Sendable (Input) -> Inner.Input

    @inlinable
    init(inner: Inner, transform: @escaping @Sendable (Input) -> Inner.Input) {
        self.inner = inner
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        inner.consume(position, transform(element))
    }
}

@usableFromInline
struct _FilterSink<Inner: _ParallelSink>: _ForwardingSink {
    @usableFromInline var inner: Inner
    @usableFromInline let isIncluded: @Sendable (Inner.Input) -> Bool

    @inlinable
    init(inner: Inner, isIncluded: @escaping @Sendable (Inner.Input) -> Bool) {
        self.inner = inner
        self.isIncluded = isIncluded
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Inner.Input) -> Bool {
        isIncluded(element) ? inner.consume(position, element) : true
    }
}

@usableFromInline
struct _CompactMapSink<Inner: _ParallelSink, Input>: _ForwardingSink {
    @usableFromInline var inner: Inner
    @usableFromInline let transform: @Sendable (Input) -> Inner.Input?

    @inlinable
    init(inner: Inner, transform: @escaping @Sendable (Input) -> Inner.Input?) {
        self.inner = inner
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        if let output = transform(element) { return inner.consume(position, output) }
        return true
    }
}

@usableFromInline
struct _EnumeratedSink<Inner: _ParallelSink, Input>: _ForwardingSink where Inner.Input == (offset: Int, element: Input) {
    @usableFromInline var inner: Inner

    @inlinable
    init(inner: Inner) { self.inner = inner }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        inner.consume(position, (position, element))
    }
}

@usableFromInline
struct _ThrowingStageSink<Inner: _ParallelSink, Input>: _ForwardingSink {
    @usableFromInline var inner: Inner
    @usableFromInline let transform: @Sendable (Input) throws -> Inner.Input?

    @inlinable
    init(inner: Inner, transform: @escaping @Sendable (Input) throws -> Inner.Input?) {
        self.inner = inner
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do {
            guard let output = try transform(element) else { return true }
            return inner.consume(position, output)
        } catch {
            inner._stop(with: error)  // the loop's first error; every range stops
            return false
        }
    }
}
