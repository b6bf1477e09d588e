/// Adaptors: lazy stages that transform the elements of a parallel sequence as they flow to a
/// terminal. Each stage is a small value type; nothing runs until a terminal is called.

/// The elements of `Base`, transformed. Made by `map(_:)`.
///
/// ```swift
/// let lengths = words.parallel.map { $0.count }.collect()
/// ```
public struct ParallelMap<Base: ParallelSequence, Element: Sendable>: ParallelSequence {
    @usableFromInline var base: Base
    @usableFromInline let transform: @Sendable (Base.Element) -> Element

    @inlinable
    init(base: Base, transform: @escaping @Sendable (Base.Element) -> Element) {
        self.base = base
        self.transform = transform
    }

    @inlinable public var _positionCount: Int { base._positionCount }
    @inlinable public var _options: _ParallelOptions {
        get { base._options }
        set { base._options = newValue }
    }

    @inlinable
    public func _forEach(in positions: Range<Int>, _ body: (Int, Element) -> Bool) -> Bool {
        base._forEach(in: positions) { p, x in body(p, transform(x)) }
    }
}

extension ParallelMap: IndexedParallelSequence where Base: IndexedParallelSequence {
    @inlinable
    public func _element(at position: Int) -> Element {
        transform(base._element(at: position))
    }
}

/// The elements of `Base` that satisfy a predicate. Made by `filter(_:)`.
///
/// ```swift
/// let adults = people.parallel.filter { $0.age >= 18 }.collect()
/// ```
public struct ParallelFilter<Base: ParallelSequence>: ParallelSequence {
    public typealias Element = Base.Element
    @usableFromInline var base: Base
    @usableFromInline let isIncluded: @Sendable (Base.Element) -> Bool

    @inlinable
    init(base: Base, isIncluded: @escaping @Sendable (Base.Element) -> Bool) {
        self.base = base
        self.isIncluded = isIncluded
    }

    @inlinable public var _positionCount: Int { base._positionCount }
    @inlinable public var _options: _ParallelOptions {
        get { base._options }
        set { base._options = newValue }
    }

    @inlinable
    public func _forEach(in positions: Range<Int>, _ body: (Int, Element) -> Bool) -> Bool {
        base._forEach(in: positions) { p, x in isIncluded(x) ? body(p, x) : true }
    }
}

/// The non-`nil` results of a transform of the elements of `Base`. Made by `compactMap(_:)`.
///
/// ```swift
/// let numbers = lines.parallel.compactMap { Int($0) }.collect()
/// ```
public struct ParallelCompactMap<Base: ParallelSequence, Element: Sendable>: ParallelSequence {
    @usableFromInline var base: Base
    @usableFromInline let transform: @Sendable (Base.Element) -> Element?

    @inlinable
    init(base: Base, transform: @escaping @Sendable (Base.Element) -> Element?) {
        self.base = base
        self.transform = transform
    }

    @inlinable public var _positionCount: Int { base._positionCount }
    @inlinable public var _options: _ParallelOptions {
        get { base._options }
        set { base._options = newValue }
    }

    @inlinable
    public func _forEach(in positions: Range<Int>, _ body: (Int, Element) -> Bool) -> Bool {
        base._forEach(in: positions) { p, x in
            if let y = transform(x) { return body(p, y) }
            return true
        }
    }
}

/// Pairs of an offset and an element of `Base`. Made by `enumerated()`.
///
/// ```swift
/// let labelled = names.parallel.enumerated().map { "\($0.offset): \($0.element)" }.collect()
/// ```
public struct ParallelEnumerated<Base: IndexedParallelSequence>: IndexedParallelSequence {
    public typealias Element = (offset: Int, element: Base.Element)
    @usableFromInline var base: Base

    @inlinable
    init(base: Base) { self.base = base }

    @inlinable public var _positionCount: Int { base._positionCount }
    @inlinable public var _options: _ParallelOptions {
        get { base._options }
        set { base._options = newValue }
    }

    @inlinable
    public func _element(at position: Int) -> Element {
        (position, base._element(at: position))
    }

    @inlinable
    public func _forEach(in positions: Range<Int>, _ body: (Int, Element) -> Bool) -> Bool {
        base._forEach(in: positions) { p, x in body(p, (p, x)) }
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
    public func _element(at position: Int) -> Element {
        (first._element(at: position), second._element(at: position))
    }

    @inlinable
    public func _forEach(in positions: Range<Int>, _ body: (Int, Element) -> Bool) -> Bool {
        first._forEach(in: positions) { p, x in body(p, (x, second._element(at: p))) }
    }
}

extension ParallelSequence {
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
