/// Terminals: the calls that run a pipeline and produce a result.
///
/// Every terminal blocks its caller until the result is ready; the caller takes part in the work.
/// Closures passed to terminals may throw: the first error stops the other ranges at their next
/// batch and is rethrown once every range has stopped. Searching terminals (`contains`,
/// `allSatisfy`, `first(where:)`) stop the other ranges as soon as the answer is known.

/// A raw buffer shared by the ranges of one loop; each range writes only its own positions.
// @unsafe: a raw buffer; users write in bounds, once per position, while it is alive.
@unsafe
@usableFromInline
struct _SharedBuffer<Element>: @unchecked Sendable {  // ranges write disjoint positions; the joins order every write before the final read
    @usableFromInline let base: UnsafeMutablePointer<Element>

    // SAFETY: only stores the address; the type's users keep it in bounds and alive.
    @inlinable
    init(_ base: UnsafeMutablePointer<Element>) { unsafe self.base = base }
}

/// Ordered pieces of a result whose length is not known in advance (after `filter`).
@usableFromInline
struct _Segments<Element: Sendable>: Sendable {
    @usableFromInline var pieces: [[Element]]

    @inlinable
    init() { pieces = [] }

    @inlinable
    static func concatenate(_ left: _Segments, _ right: _Segments) -> _Segments {
        if right.pieces.isEmpty { return left }
        if left.pieces.isEmpty { return right }
        var both = left
        both.pieces.append(contentsOf: right.pieces)
        return both
    }
}

extension ParallelSequence where Failure == Never {
    /// Calls `body` on every element, in parallel.
    ///
    /// ```swift
    /// try images.parallel.forEach { image in try image.writeThumbnail() }
    /// ```
    /// - Throws: the first error `body` throws; the other ranges then stop early.
    @inlinable
    @inline(__always)
    public func forEach<E: Error>(_ body: @Sendable (Element) throws(E) -> Void) throws(E) {
        try _forEach(body)
    }

    /// Combines `initialResult` and all elements with `combine`, in collection order: the same
    /// result as `Sequence.reduce(_:_:)` when `combine` is associative.
    ///
    /// `initialResult` is used once, as the leftmost operand. The elements are combined in
    /// ranges on several threads, and the ranges' results combined left before right, so
    /// `combine` must be associative (`(a • b) • c == a • (b • c)`); it need not have an
    /// identity, nor be commutative.
    ///
    /// ```swift
    /// let total = (1...100).parallel.reduce(0, +)        // 5050
    /// let offset = (1...100).parallel.reduce(10, +)      // 5060, as (1...100).reduce(10, +)
    /// let longest = lines.parallel.reduce("") { $0.count >= $1.count ? $0 : $1 }
    /// ```
    ///
    /// On the calling thread the loop inlines into your function with `combine`, as a sequential
    /// `reduce` would. Swift 6.3 cannot prove the wrapping operators `Sendable` as references
    /// (`reduce(0, &+)` warns); write `reduce(0) { $0 &+ $1 }`.
    /// - Throws: the first error `combine` throws.
    @inlinable
    @inline(__always)
    public func reduce<E: Error>(
        _ initialResult: Element, _ combine: @Sendable (Element, Element) throws(E) -> Element
    ) throws(E) -> Element {
        try _reduce(initialResult, combine)
    }

    /// Counts the elements that satisfy `predicate`.
    ///
    /// ```swift
    /// let primes = (2..<2_000_000).parallel.count(where: isPrime)
    /// ```
    @inlinable
    @inline(__always)
    public func count<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Int {
        try _count(where: predicate)
    }

    /// Whether some element satisfies `predicate`; stops every range once one is found.
    ///
    /// ```swift
    /// let hasNegative = values.parallel.contains { $0 < 0 }
    /// ```
    @inlinable
    @inline(__always)
    public func contains<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Bool {
        try _contains(where: predicate)
    }

    /// Whether every element satisfies `predicate`; stops every range at the first that does not.
    ///
    /// ```swift
    /// let sorted = pairs.parallel.allSatisfy { $0.0 <= $0.1 }
    /// ```
    @inlinable
    @inline(__always)
    public func allSatisfy<E: Error>(_ predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Bool {
        try _allSatisfy(predicate)
    }

    /// The first element, in collection order, that satisfies `predicate`. Ranges after a hit
    /// stop; ranges before it go on, since an earlier hit may still be there.
    ///
    /// ```swift
    /// let firstLarge = sizes.parallel.first { $0 > 1 << 20 }
    /// ```
    @inlinable
    @inline(__always)
    public func first<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Element? {
        try _first(where: predicate)
    }

    /// The last element, in collection order, that satisfies `predicate`. Ranges before a hit
    /// stop; ranges after it go on, since a later hit may still be there.
    ///
    /// ```swift
    /// let lastError = logLines.parallel.last { $0.hasPrefix("error:") }
    /// ```
    @inlinable
    @inline(__always)
    public func last<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Element? {
        try _last(where: predicate)
    }

    /// The smallest element by `areInIncreasingOrder` (the first of equal ones), or `nil` if
    /// there are none.
    ///
    /// ```swift
    /// let youngest = people.parallel.min(by: { $0.age < $1.age })
    /// ```
    @inlinable
    @inline(__always)
    public func min<E: Error>(by areInIncreasingOrder: @Sendable (Element, Element) throws(E) -> Bool) throws(E) -> Element? {
        try _min(by: areInIncreasingOrder)
    }

    /// The largest element by `areInIncreasingOrder` (the first of equal ones), or `nil` if
    /// there are none.
    ///
    /// ```swift
    /// let oldest = people.parallel.max(by: { $0.age < $1.age })
    /// ```
    @inlinable
    @inline(__always)
    public func max<E: Error>(by areInIncreasingOrder: @Sendable (Element, Element) throws(E) -> Bool) throws(E) -> Element? {
        try _max(by: areInIncreasingOrder)
    }
}

/// The terminals of a pipeline with a throwing stage (`map { try parse($0) }`): each throws the
/// first error of a stage or of its own closure.
extension ParallelSequence where Failure == any Error {
    /// Calls `body` on every element, in parallel.
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func forEach(_ body: @Sendable (Element) throws -> Void) throws {
        try _forEach(body)
    }

    /// Combines `initialResult` and all elements with `combine`, in collection order
    /// (`combine` must be associative: see the non-throwing pipeline's `reduce(_:_:)`).
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func reduce(
        _ initialResult: Element, _ combine: @Sendable (Element, Element) throws -> Element
    ) throws -> Element {
        try _reduce(initialResult, combine)
    }

    /// Counts the elements that satisfy `predicate`.
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func count(where predicate: @Sendable (Element) throws -> Bool) throws -> Int {
        try _count(where: predicate)
    }

    /// Whether some element satisfies `predicate`; stops every range once one is found.
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func contains(where predicate: @Sendable (Element) throws -> Bool) throws -> Bool {
        try _contains(where: predicate)
    }

    /// Whether every element satisfies `predicate`; stops every range at the first that does not.
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func allSatisfy(_ predicate: @Sendable (Element) throws -> Bool) throws -> Bool {
        try _allSatisfy(predicate)
    }

    /// The first element, in collection order, that satisfies `predicate`. Ranges after a hit
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func first(where predicate: @Sendable (Element) throws -> Bool) throws -> Element? {
        try _first(where: predicate)
    }

    /// The last element, in collection order, that satisfies `predicate`. Ranges before a hit
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func last(where predicate: @Sendable (Element) throws -> Bool) throws -> Element? {
        try _last(where: predicate)
    }

    /// The smallest element by `areInIncreasingOrder` (the first of equal ones), or `nil` if
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func min(by areInIncreasingOrder: @Sendable (Element, Element) throws -> Bool) throws -> Element? {
        try _min(by: areInIncreasingOrder)
    }

    /// The largest element by `areInIncreasingOrder` (the first of equal ones), or `nil` if
    ///
    /// - Throws: the first error of the pipeline's stages or of the closure; the loop then stops.
    @inlinable
    @inline(__always)
    public func max(by areInIncreasingOrder: @Sendable (Element, Element) throws -> Bool) throws -> Element? {
        try _max(by: areInIncreasingOrder)
    }
}

extension ParallelSequence {
    /// The number of elements produced.
    ///
    /// ```swift
    /// let matches = rows.parallel.filter(matchesQuery).count()
    /// ```
    @inlinable
    @inline(__always)
    public func count() throws(Failure) -> Int {
        try _count(where: { (_: Element) throws(Failure) -> Bool in true })
    }

    /// Whether the sequence contains `element`; stops every range once it is found.
    ///
    /// ```swift
    /// let hasZero = readings.parallel.contains(0)
    /// ```
    @inlinable
    @inline(__always)
    public func contains(_ element: Element) throws(Failure) -> Bool where Element: Equatable {
        try _contains(where: { (candidate: Element) throws(Failure) -> Bool in candidate == element })
    }

    /// The elements in collection order, as an array.
    ///
    /// ```swift
    /// let evens = numbers.parallel.filter { $0 % 2 == 0 }.collect()
    /// ```
    @inlinable
    @inline(__always)
    public func collect() throws(Failure) -> [Element] {
        let control = _ParallelControl()
        // SAFETY: names the sink type only; its sinks are made and used as below.
        let loop = unsafe _specialisedRangeLoop(for: _AppendSink<Element>.self)
        // One range's fold: through `_drive` on the calling thread (`loop` nil, folded away
        // there), through the range loop where it is called as a stored closure.
        @Sendable @inline(__always)
        func foldRange(_ partial: inout _Segments<Element>, _ positions: Range<Int>, _ loop: _RangeLoop<Self, _AppendSink<Element>>?) {
            var piece: [Element] = []
            // SAFETY: `piece` outlives the sink, which is used only inside this closure.
            unsafe withUnsafeMutablePointer(to: &piece) { target in
                var sink = unsafe _AppendSink(target: target, control: control)
                _ = unsafe self._drive(positions, into: &sink, using: loop)
            }
            if piece.isEmpty { return }
            // Batches of one range arrive in order: extend its last piece rather than add one.
            if partial.pieces.isEmpty {
                partial.pieces.append(piece)
            } else {
                partial.pieces[partial.pieces.count - 1].append(contentsOf: piece)
            }
        }
        let segments: _Segments<Element> = _runFold(
            control: control, initial: _Segments(), identity: { _Segments() },
            fold: { partial, positions in foldRange(&partial, positions, nil) },
            // SAFETY: `_AppendSink` is used as above.
            stolenFold: unsafe _stolenFold(ifThereIs: loop, { partial, positions in unsafe foldRange(&partial, positions, loop) }),
            combine: _Segments.concatenate)
        try control.rethrow(as: Failure.self)
        if segments.pieces.count == 1 { return segments.pieces[0] }
        var result: [Element] = []
        result.reserveCapacity(segments.pieces.reduce(0) { $0 + $1.count })
        for piece in segments.pieces { result.append(contentsOf: piece) }
        return result
    }

    /// Calls `body` on every element, in parallel.
    ///
    /// ```swift
    /// try images.parallel.forEach { image in try image.writeThumbnail() }
    /// ```
    /// - Throws: the first error `body` throws; the other ranges then stop early.
    @inlinable
    @inline(__always)
    func _forEach<E: Error>(_ body: @Sendable (Element) throws(E) -> Void) throws(E) {
        let control = _ParallelControl()
        withoutActuallyEscaping(body) { body in
            _runFold(
                control: control, initial: (), identity: {},
                fold: { _, positions in
                    var sink = _ForEachSink(body: body, control: control)
                    _ = self._drive(positions, into: &sink)
                }, combine: { _, _ in })
        }
        try control.rethrow(as: E.self)
    }

    /// Combines `initialResult` and all elements with `combine`, in collection order: the same
    /// result as `Sequence.reduce(_:_:)` when `combine` is associative.
    ///
    /// `initialResult` is used once, as the leftmost operand. The elements are combined in
    /// ranges on several threads, and the ranges' results combined left before right, so
    /// `combine` must be associative (`(a • b) • c == a • (b • c)`); it need not have an
    /// identity, nor be commutative.
    ///
    /// ```swift
    /// let total = (1...100).parallel.reduce(0, +)        // 5050
    /// let offset = (1...100).parallel.reduce(10, +)      // 5060, as (1...100).reduce(10, +)
    /// let longest = lines.parallel.reduce("") { $0.count >= $1.count ? $0 : $1 }
    /// ```
    ///
    /// On the calling thread the loop inlines into your function with `combine`, as a sequential
    /// `reduce` would. Swift 6.3 cannot prove the wrapping operators `Sendable` as references
    /// (`reduce(0, &+)` warns); write `reduce(0) { $0 &+ $1 }`.
    /// - Throws: the first error `combine` throws.
    @inlinable
    @inline(__always)
    func _reduce<E: Error>(
        _ initialResult: Element, _ combine: @Sendable (Element, Element) throws(E) -> Element
    ) throws(E) -> Element {
        let control = _ParallelControl()
        // A range that does not start at position 0 has no initial value to start from: its
        // partial result is `nil` until its first element.
        let result: Element? = withoutActuallyEscaping(combine) { combine in
            let combinePartials: @Sendable (Element?, Element?) -> Element? = { left, right in
                guard let left else { return right }
                guard let right else { return left }
                do throws(E) { return try combine(left, right) } catch {
                    control.fail(error)
                    return left
                }
            }
            return _runFold(
                control: control, initial: initialResult, identity: { nil },
                fold: { partial, positions in
                    if let running = partial {
                        var sink = _ReduceSink(running: running, combine: combine, control: control)
                        _ = self._drive(positions, into: &sink)
                        partial = sink.running
                    } else {
                        var sink = _ReduceFromFirstSink(combine: combine, control: control)
                        _ = self._drive(positions, into: &sink)
                        partial = sink.running
                    }
                }, combine: combinePartials)
        }
        try control.rethrow(as: E.self)
        // SAFETY: the leftmost partial starts from `initialResult`, and combining keeps it non-nil.
        return unsafe result.unsafelyUnwrapped
    }

    /// Counts the elements that satisfy `predicate`.
    ///
    /// ```swift
    /// let primes = (2..<2_000_000).parallel.count(where: isPrime)
    /// ```
    @inlinable
    @inline(__always)
    func _count<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Int {
        let control = _ParallelControl()
        let result: Int = withoutActuallyEscaping(predicate) { predicate in
            _runFold(
                control: control, initial: 0, identity: { 0 },
                fold: { partial, positions in
                    var sink = _CountSink(count: partial, predicate: predicate, control: control)
                    _ = self._drive(positions, into: &sink)
                    partial = sink.count
                }, combine: { $0 &+ $1 })
        }
        try control.rethrow(as: E.self)
        return result
    }

    /// Whether some element satisfies `predicate`; stops every range once one is found.
    ///
    /// ```swift
    /// let hasNegative = values.parallel.contains { $0 < 0 }
    /// ```
    @inlinable
    @inline(__always)
    func _contains<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Bool {
        let control = _ParallelControl()
        let found: Bool = withoutActuallyEscaping(predicate) { predicate in
            _runFold(
                control: control, initial: false, identity: { false },
                fold: { partial, positions in
                    var sink = _ContainsSink(predicate: predicate, control: control)
                    _ = self._drive(positions, into: &sink)
                    if sink.hit {
                        partial = true
                        control.stop()  // the answer is known: every other range may stop
                    }
                }, combine: { $0 || $1 })
        }
        try control.rethrow(as: E.self)
        return found
    }

    /// Whether every element satisfies `predicate`; stops every range at the first that does not.
    ///
    /// ```swift
    /// let sorted = pairs.parallel.allSatisfy { $0.0 <= $0.1 }
    /// ```
    @inlinable
    @inline(__always)
    func _allSatisfy<E: Error>(_ predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Bool {
        try !_contains(where: { (element) throws(E) -> Bool in try !predicate(element) })
    }

    /// The first element, in collection order, that satisfies `predicate`. Ranges after a hit
    /// stop; ranges before it go on, since an earlier hit may still be there.
    ///
    /// ```swift
    /// let firstLarge = sizes.parallel.first { $0 > 1 << 20 }
    /// ```
    @inlinable
    @inline(__always)
    func _first<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Element? {
        try _firstHit(where: predicate)?.element
    }

    /// The last element, in collection order, that satisfies `predicate`. Ranges before a hit
    /// stop; ranges after it go on, since a later hit may still be there.
    ///
    /// ```swift
    /// let lastError = logLines.parallel.last { $0.hasPrefix("error:") }
    /// ```
    @inlinable
    @inline(__always)
    func _last<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> Element? {
        try _lastHit(where: predicate)?.element
    }

    /// The first hit of a search and its base position (`first(where:)`, `firstIndex(where:)`).
    @inlinable
    @inline(__always)
    func _firstHit<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> (position: Int, element: Element)? {
        let control = _ParallelControl()
        let found: (position: Int, element: Element)? = withoutActuallyEscaping(predicate) { predicate in
            _runFold(
                control: control, initial: nil, identity: { nil },
                fold: { partial, positions in
                    if partial != nil { return }  // this range already has its first hit
                    var sink = _FirstSink(predicate: predicate, control: control)
                    _ = self._drive(positions, into: &sink)
                    partial = sink.found
                }, combine: { left, right in left ?? right })
        }
        try control.rethrow(as: E.self)
        return found
    }

    /// The last hit of a search and its base position (`last(where:)`, `lastIndex(where:)`).
    @inlinable
    @inline(__always)
    func _lastHit<E: Error>(where predicate: @Sendable (Element) throws(E) -> Bool) throws(E) -> (position: Int, element: Element)? {
        let control = _ParallelControl()
        let found: (position: Int, element: Element)? = withoutActuallyEscaping(predicate) { predicate in
            _runFold(
                control: control, initial: nil, identity: { nil },
                fold: { partial, positions in
                    var sink = _LastSink(found: partial, predicate: predicate, control: control)
                    _ = self._drive(positions, into: &sink)
                    partial = sink.found
                }, combine: { left, right in right ?? left })
        }
        try control.rethrow(as: E.self)
        return found
    }

    /// The smallest element by `areInIncreasingOrder` (the first of equal ones), or `nil` if
    /// there are none.
    ///
    /// ```swift
    /// let youngest = people.parallel.min(by: { $0.age < $1.age })
    /// ```
    @inlinable
    @inline(__always)
    func _min<E: Error>(by areInIncreasingOrder: @Sendable (Element, Element) throws(E) -> Bool) throws(E) -> Element? {
        try extreme(by: areInIncreasingOrder, keepsRightWhen: { (less, left, right) throws(E) -> Bool in try less(right, left) })
    }

    /// The largest element by `areInIncreasingOrder` (the first of equal ones), or `nil` if
    /// there are none.
    ///
    /// ```swift
    /// let oldest = people.parallel.max(by: { $0.age < $1.age })
    /// ```
    @inlinable
    @inline(__always)
    func _max<E: Error>(by areInIncreasingOrder: @Sendable (Element, Element) throws(E) -> Bool) throws(E) -> Element? {
        try extreme(by: areInIncreasingOrder, keepsRightWhen: { (less, left, right) throws(E) -> Bool in try less(left, right) })
    }

    /// Shared by `min` and `max`: the element kept is replaced by a later one only when
    /// `keepsRightWhen` says so (strictly), so the first of equal elements wins.
    @inlinable
    @inline(__always)
    func extreme<E: Error>(
        by less: @Sendable (Element, Element) throws(E) -> Bool,
        keepsRightWhen: @escaping @Sendable ((Element, Element) throws(E) -> Bool, Element, Element) throws(E) -> Bool
    ) throws(E) -> Element? {
        let control = _ParallelControl()
        let result: Element? = withoutActuallyEscaping(less) { less in
            let pick: @Sendable (Element?, Element?) -> Element? = { left, right in
                guard let left else { return right }
                guard let right else { return left }
                do throws(E) { return try keepsRightWhen(less, left, right) ? right : left } catch {
                    control.fail(error)
                    return left
                }
            }
            return _runFold(
                control: control, initial: nil, identity: { nil },
                fold: { partial, positions in
                    var sink = _ExtremeSink(best: partial, less: less, keepsRightWhen: keepsRightWhen, control: control)
                    _ = self._drive(positions, into: &sink)
                    partial = sink.best
                }, combine: pick)
        }
        try control.rethrow(as: E.self)
        return result
    }
}

extension ParallelSequence where Element: AdditiveArithmetic {
    /// The sum of all elements (traps on overflow, like `+`).
    ///
    /// ```swift
    /// let bytes = files.parallel.map { $0.size }.sum()
    /// ```
    @inlinable
    @inline(__always)
    public func sum() throws(Failure) -> Element {
        let control = _ParallelControl()
        let loop = _specialisedRangeLoop(for: _SumSink<Element>.self)
        let total: Element = _runFold(
            control: control, initial: .zero, identity: { .zero },
            fold: { partial, positions in
                var sink = _SumSink(total: partial, control: control)
                _ = self._drive(positions, into: &sink)
                partial = sink.total
            },
            stolenFold: _stolenFold(
                ifThereIs: loop,
                { partial, positions in
                    var sink = _SumSink(total: partial, control: control)
                    _ = self._drive(positions, into: &sink, using: loop)
                    partial = sink.total
                }), combine: { $0 + $1 })
        try control.rethrow(as: Failure.self)
        return total
    }
}

extension ParallelSequence where Element: Comparable {
    /// The smallest element, or `nil` if there are none.
    ///
    /// ```swift
    /// let lowest = temperatures.parallel.min()
    /// ```
    @inlinable
    @inline(__always)
    public func min() throws(Failure) -> Element? {
        try comparableExtreme(keepsRight: { best, element in element < best })
    }

    /// The largest element, or `nil` if there are none.
    ///
    /// ```swift
    /// let highest = temperatures.parallel.max()
    /// ```
    @inlinable
    @inline(__always)
    public func max() throws(Failure) -> Element? {
        try comparableExtreme(keepsRight: { best, element in best < element })
    }

    /// `min()` and `max()`: as `extreme(by:keepsRightWhen:)`, with `<` itself rather than a
    /// throwing comparator, so that nothing of error handling is left in the loop.
    @inlinable
    @inline(__always)
    func comparableExtreme(keepsRight: @escaping @Sendable (Element, Element) -> Bool) throws(Failure) -> Element? {
        let control = _ParallelControl()
        // The loop's step captures `keepsRight` (a literal of `min()` or `max()`), so that it is
        // a constant there rather than the sink's field.
        let loop = _specialisedRangeLoop { (sink: inout _ComparableExtremeSink<Element>, position: Int, element: Element) in
            sink.consume(position, element, keepsRight)
        }
        let result: Element? = _runFold(
            control: control, initial: nil, identity: { nil },
            fold: { partial, positions in
                var sink = _ComparableExtremeSink(best: partial, keepsRight: keepsRight, control: control)
                _ = self._drive(positions, into: &sink)
                partial = sink.best
            },
            stolenFold: _stolenFold(
                ifThereIs: loop,
                { partial, positions in
                    var sink = _ComparableExtremeSink(best: partial, keepsRight: keepsRight, control: control)
                    _ = self._drive(positions, into: &sink, using: loop)
                    partial = sink.best
                }),
            combine: { left, right in
                guard let left else { return right }
                guard let right else { return left }
                return keepsRight(left, right) ? right : left
            })
        try control.rethrow(as: Failure.self)
        return result
    }
}

extension IndexedParallelSequence {
    /// The elements in collection order, written straight into the result array by the threads
    /// that produce them.
    ///
    /// ```swift
    /// let squares = (0..<1_000_000).parallel.map { $0 * $0 }.collect()
    /// ```
    @inlinable
    @inline(__always)
    public func collect() -> [Element] {
        let count = _positionCount
        // Not through `Array(unsafeUninitializedCapacity: 0)`: that stores the count into the
        // standard library's one shared empty-array storage, so two threads collecting nothing
        // at once write the same global (a race report under the thread sanitizer).
        if count == 0 { return [] }
        // SAFETY: every position `0..<count` is written exactly once by the fold, each range its
        // own, before `initializedCount` is set (nothing here throws or stops a range early).
        return unsafe Array(unsafeUninitializedCapacity: count) { buffer, initializedCount in
            let base = unsafe buffer.baseAddress.unsafelyUnwrapped  // count > 0: there is storage
            let target = unsafe _SharedBuffer(base)
            let control = _ParallelControl()
            // SAFETY: names the sink type only; its sinks are made and used as below.
            let loop = unsafe _specialisedRangeLoop(for: _WriteSink<Element>.self)
            _runFold(
                control: control, initial: (), identity: {},
                fold: { _, positions in
                    var sink = unsafe _WriteSink(base: target.base)
                    _ = unsafe self._drive(positions, into: &sink)
                },
                // SAFETY: `_WriteSink` is used as above.
                stolenFold: unsafe _stolenFold(
                    ifThereIs: loop,
                    { _, positions in
                        var sink = unsafe _WriteSink(base: target.base)
                        _ = unsafe self._drive(positions, into: &sink, using: loop)
                    }), combine: { _, _ in })
            initializedCount = count
        }
    }

    /// The number of elements (one per position).
    @inlinable
    public func count() -> Int { _positionCount }
}

// MARK: The terminals' sinks (per-range state; copied in and out of adaptor sinks, so small)

@usableFromInline
struct _ForEachSink<Input, E: Error>: _ControlledSink {
    @usableFromInline let body: @Sendable (Input) throws(E) -> Void
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(body: @escaping @Sendable (Input) throws(E) -> Void, control: _ParallelControl) {
        self.body = body
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            try body(element)
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}

@usableFromInline
struct _ReduceSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var running: Input
    @usableFromInline let combine: @Sendable (Input, Input) throws(E) -> Input
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(running: Input, combine: @escaping @Sendable (Input, Input) throws(E) -> Input, control: _ParallelControl) {
        self.running = running
        self.combine = combine
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            running = try combine(running, element)
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}

/// A `_ReduceSink` for a range with no initial value: its first element starts the result.
@usableFromInline
struct _ReduceFromFirstSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var running: Input?
    @usableFromInline let combine: @Sendable (Input, Input) throws(E) -> Input
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(combine: @escaping @Sendable (Input, Input) throws(E) -> Input, control: _ParallelControl) {
        running = nil
        self.combine = combine
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        guard let current = running else {
            running = element
            return true
        }
        do throws(E) {
            running = try combine(current, element)
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}

@usableFromInline
struct _CountSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var count: Int
    @usableFromInline let predicate: @Sendable (Input) throws(E) -> Bool
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(count: Int, predicate: @escaping @Sendable (Input) throws(E) -> Bool, control: _ParallelControl) {
        self.count = count
        self.predicate = predicate
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            if try predicate(element) { count &+= 1 }
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}

@usableFromInline
struct _ContainsSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var hit = false
    @usableFromInline let predicate: @Sendable (Input) throws(E) -> Bool
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(predicate: @escaping @Sendable (Input) throws(E) -> Bool, control: _ParallelControl) {
        self.predicate = predicate
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            hit = try predicate(element)
            return !hit
        } catch {
            control.fail(error)
            return false
        }
    }
}

@usableFromInline
struct _FirstSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var found: (position: Int, element: Input)?
    @usableFromInline let predicate: @Sendable (Input) throws(E) -> Bool
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(predicate: @escaping @Sendable (Input) throws(E) -> Bool, control: _ParallelControl) {
        found = nil
        self.predicate = predicate
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            guard try predicate(element) else { return true }
            found = (position, element)
            control.recordHit(at: position)
            return false
        } catch {
            control.fail(error)
            return false
        }
    }
}

/// The last element of a range that satisfies the predicate so far; goes on to the range's end.
@usableFromInline
struct _LastSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var found: (position: Int, element: Input)?
    @usableFromInline let predicate: @Sendable (Input) throws(E) -> Bool
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(found: (position: Int, element: Input)?, predicate: @escaping @Sendable (Input) throws(E) -> Bool, control: _ParallelControl) {
        self.found = found
        self.predicate = predicate
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            guard try predicate(element) else { return true }
            found = (position, element)
            control.recordLastHit(at: position)
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}

@usableFromInline
struct _ExtremeSink<Input, E: Error>: _ControlledSink {
    @usableFromInline var best: Input?
    @usableFromInline let less: @Sendable (Input, Input) throws(E) -> Bool
    @usableFromInline let keepsRightWhen: @Sendable ((Input, Input) throws(E) -> Bool, Input, Input) throws(E) -> Bool
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(
        best: Input?, less: @escaping @Sendable (Input, Input) throws(E) -> Bool,
        keepsRightWhen: @escaping @Sendable ((Input, Input) throws(E) -> Bool, Input, Input) throws(E) -> Bool,
        control: _ParallelControl
    ) {
        self.best = best
        self.less = less
        self.keepsRightWhen = keepsRightWhen
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        guard let current = best else {
            best = element
            return true
        }
        do throws(E) {
            if try keepsRightWhen(less, current, element) { best = element }
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}

/// The best element so far by a non-throwing order (`min()`, `max()`).
@usableFromInline
struct _ComparableExtremeSink<Input>: _ControlledSink {
    @usableFromInline var best: Input?
    @usableFromInline let keepsRight: @Sendable (Input, Input) -> Bool
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(best: Input?, keepsRight: @escaping @Sendable (Input, Input) -> Bool, control: _ParallelControl) {
        self.best = best
        self.keepsRight = keepsRight
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        consume(position, element, keepsRight)
    }

    /// `consume` with the order passed in: a range loop's step passes the one it captured,
    /// which the optimiser can inline there (RangeLoop.swift).
    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input, _ keepsRight: @Sendable (Input, Input) -> Bool) -> Bool {
        if let current = best {
            if keepsRight(current, element) { best = element }
        } else {
            best = element
        }
        return true
    }
}

@usableFromInline
struct _SumSink<Input: AdditiveArithmetic>: _ControlledSink {
    @usableFromInline var total: Input
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(total: Input, control: _ParallelControl) {
        self.total = total
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        total += element
        return true
    }
}

/// Appends to an array owned by the folding range (through a pointer, so that copying the sink
/// into an adaptor's sink never copies the array).
// @unsafe: points at an array owned by the folding range, which outlives the sink.
@unsafe
@usableFromInline
struct _AppendSink<Input>: _ControlledSink {
    @usableFromInline let target: UnsafeMutablePointer<[Input]>
    @usableFromInline let control: _ParallelControl

    // SAFETY: only stores the address; the folding range owns the array and outlives the sink.
    @inlinable
    init(target: UnsafeMutablePointer<[Input]>, control: _ParallelControl) {
        unsafe self.target = target
        unsafe self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        // SAFETY: the array is the folding range's, alive while the sink is used (see `_AppendSink`).
        unsafe target.pointee.append(element)
        return true
    }
}

/// Writes each element at its position of the result (indexed pipelines only).
// @unsafe: writes through a raw pointer at positions its loop promises to be in bounds.
@unsafe
@usableFromInline
struct _WriteSink<Input>: _ParallelSink {
    @usableFromInline let base: UnsafeMutablePointer<Input>

    // SAFETY: only stores the address; the loop keeps positions in bounds.
    @inlinable
    init(base: UnsafeMutablePointer<Input>) { unsafe self.base = base }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        // Unsafe write: `position` is in 0..<count and each position is produced exactly once.
        // SAFETY: `position` is in `0..<count` and each position is produced exactly once.
        unsafe (base + position).initialize(to: element)
        return true
    }
}
