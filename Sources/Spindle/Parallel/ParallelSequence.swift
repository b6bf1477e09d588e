/// Parallel iteration: the splittable-producer protocols, the split strategies, and the options
/// every pipeline carries.
///
/// A pipeline is a chain of value types over *base positions* `0..<_positionCount` (the offsets
/// of the collection or range it started from): `ParallelCollection` at the bottom, adaptors
/// (`map`, `filter`, …) on top. A terminal (`sum`, `collect`, …) hands ranges of positions to
/// threads, and each thread pushes the elements of its range through the chain, in order, into
/// the terminal's sink. Nothing is materialised between stages.

/// A sequence whose elements can be produced in parallel, by ranges of positions of the
/// collection it started from.
///
/// You get one from `.parallel` or `.parallel(on:)` on a random-access collection or a range,
/// then chain adaptors and finish with a terminal:
///
/// ```swift
/// let total = (0..<1_000_000).parallel.map { $0 * $0 }.reduce(0, +)
/// let evens = numbers.parallel.filter { $0 % 2 == 0 }.collect()
/// ```
///
/// Closures given to adaptors and terminals may run on several threads at once, in any order
/// between ranges; results that keep an order (`collect`, `first(where:)`, `reduce`) keep the
/// collection's order.
public protocol ParallelSequence: Sendable {
    /// The type of the elements the pipeline produces.
    associatedtype Element: Sendable

    /// What the pipeline's own stages may throw: `Never` unless a stage's closure throws
    /// (`map { try parse($0) }`), then `any Error`, and every terminal of it throws.
    associatedtype Failure: Error = Never

    /// Number of base positions (elements of the underlying collection).
    var _positionCount: Int { get }

    /// The pool and split strategy of the pipeline.
    var _options: _ParallelOptions { get set }

    /// Feeds the elements produced by the base positions in `positions` to `sink`, in order,
    /// each with its base position, until the sink returns false. Returns false if stopped early.
    ///
    /// Generic over the sink (not a closure), so that a whole pipeline specialises into one
    /// loop with direct calls: each stage wraps the sink it is given in its own.
    func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element

    /// `_drive` as a closure that takes the pipeline as its first argument and captures only
    /// the stages' closures and `step` (the terminal's per-element code), never the data: the
    /// loop a thread that did not start the fold runs (RangeLoop.swift). The default drives
    /// through `_drive`.
    func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>

    /// The ordinary sequence the pipeline reads window by window (`ParallelBridge`), or nil for
    /// a pipeline over a collection or a range (the default: the check then folds away).
    var _bridge: _SequenceBridgeBase? { get }
}

extension ParallelSequence {
    @inlinable public var _bridge: _SequenceBridgeBase? { nil }
}

/// The receiving end of a pipeline: a terminal's per-range state (a running sum, a count, an
/// output pointer), wrapped by one sink per adaptor on the way down.
public protocol _ParallelSink {
    associatedtype Input
    /// Takes the element produced at base position `position`; returns false to stop the range.
    mutating func consume(_ position: Int, _ element: Input) -> Bool

    /// A throwing stage above this sink threw `error`: records it as the loop's error (the
    /// first one wins) and stops the loop. The stage's `consume` then returns false. Adaptor
    /// sinks pass it down; terminal sinks record it in their loop's control.
    mutating func _stop(with error: any Error)
}

extension _ParallelSink {
    /// For sinks no throwing stage can feed (an indexed pipeline's, whose stages never throw).
    @inlinable
    public mutating func _stop(with error: any Error) {
        preconditionFailure("Spindle: a throwing stage fed a sink that cannot report its error (\(type(of: self)))")
    }
}

/// A terminal's sink that reports a throwing stage's error to its loop's control.
@usableFromInline
protocol _ControlledSink: _ParallelSink {
    var control: _ParallelControl { get }
}

extension _ControlledSink {
    @inlinable
    public mutating func _stop(with error: any Error) { control.fail(error) }
}

/// An adaptor's sink: passes a throwing stage's error down to the sink below it.
@usableFromInline
protocol _ForwardingSink: _ParallelSink {
    associatedtype Inner: _ParallelSink
    var inner: Inner { get set }
}

extension _ForwardingSink {
    @inlinable
    public mutating func _stop(with error: any Error) { inner._stop(with: error) }
}

/// A parallel sequence that produces exactly one element per base position, so an element's
/// position is its offset: it can be enumerated, zipped, and collected straight into place.
///
/// ```swift
/// for (offset, name) in names.parallel.enumerated().collect() { print(offset, name) }
/// ```
public protocol IndexedParallelSequence: ParallelSequence where Failure == Never {
    /// The element at base position `position` (`0..<_positionCount`).
    func _element(at position: Int) -> Element
}

extension IndexedParallelSequence {
    /// A `_drive` that reads each element through `_element(at:)`: for sequences with no
    /// cheaper way to produce a range (chunks, zips).
    @inlinable
    @inline(__always)
    func _driveByPosition<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        for position in positions where !sink.consume(position, _element(at: position)) { return false }
        return true
    }
}

/// How a parallel loop divides its range among threads.
///
/// ```swift
/// let hits = records.parallel.split(.chunks(of: 4_096)).count(where: matches)
/// ```
public struct SplitStrategy: Sendable, Equatable, CustomStringConvertible {
    @usableFromInline
    enum Kind: Sendable, Equatable {
        case adaptive
        case evenly
        case chunks(Int)
        case deterministic(leafSize: Int)
    }

    @usableFromInline let kind: Kind

    @inlinable
    init(kind: Kind) { self.kind = kind }

    /// The default: a range runs sequentially on one thread and hands half of what remains to
    /// the pool only when a heartbeat asks for it (another thread is hungry). Cheap items cost
    /// no splitting at all; uneven items balance themselves. When 32 positions or fewer remain
    /// at such a heartbeat, they are handed out one by one instead (first come, first served, as
    /// `TaskGroup` does), so a few expensive items are not kept together. No tuning knob.
    public static var adaptive: SplitStrategy { SplitStrategy(kind: .adaptive) }

    /// One piece per worker thread of the pool, all of them stealable at once: best for uniform
    /// items when every worker is free.
    public static var evenly: SplitStrategy { SplitStrategy(kind: .evenly) }

    /// Pieces of at most `size` elements, made by halving; each halving is a `join`, so the
    /// heartbeat decides which pieces other threads take. A loop of fewer than 32 pieces hands
    /// them out one by one instead, to every thread of the pool at once (first come, first
    /// served).
    ///
    /// - Precondition: `size >= 1`.
    public static func chunks(of size: Int) -> SplitStrategy {
        precondition(size >= 1, "SplitStrategy.chunks(of:) needs a chunk size of at least 1, got \(size)")
        return SplitStrategy(kind: .chunks(size))
    }

    /// Every element may go to another thread: `chunks(of: 1)`. For few, expensive items:
    ///
    /// ```swift
    /// let results = (0..<7).parallel.split(.perItem).map { expensive($0) }.collect()
    /// ```
    public static var perItem: SplitStrategy { SplitStrategy(kind: .chunks(1)) }

    /// A split whose shape depends only on the number of elements, so that a `reduce` or `sum`
    /// gives a bit-identical result on any pool, at any load, whoever steals what: the default
    /// `deterministic(leafSize: 4_096)`.
    ///
    /// ```swift
    /// let total = samples.parallel.split(.deterministic).sum()  // the same Double every run
    /// ```
    ///
    /// See ``deterministic(leafSize:)`` for the exact order of operations.
    public static var deterministic: SplitStrategy { deterministic(leafSize: 4_096) }

    /// A split whose shape depends only on the number of elements and `leafSize`: for
    /// reductions with an operation that is associative only in theory, such as floating-point
    /// `+`, whose result must not drift by an ulp from run to run or machine to machine.
    ///
    /// The positions `0..<n` are cut into leaves of `leafSize` (the last one shorter). Each leaf
    /// is folded sequentially, from its first element. The leaves are combined by a fixed
    /// tree: a range of `k > 1` leaves is split after its first `k / 2` leaves, the two halves
    /// are reduced, and their results combined left before right. A `reduce`'s initial value is
    /// combined last, on the left (`combine(initial, tree)`). Which thread folds which leaf
    /// changes from run to run; the operations and their order do not.
    ///
    /// ```swift
    /// let a = try ThreadPool(threads: 2), b = try ThreadPool(threads: 8)
    /// let sumOnTwo = values.parallel(on: a).split(.deterministic(leafSize: 1_024)).sum()
    /// let sumOnEight = values.parallel(on: b).split(.deterministic(leafSize: 1_024)).sum()
    /// assert(sumOnTwo == sumOnEight)  // bit for bit
    /// ```
    ///
    /// Each split is a `join`, so a leaf costs one join point (about a function call unless it is
    /// stolen); keep leaves at a few microseconds of work or more.
    ///
    /// - Precondition: `leafSize >= 1`.
    public static func deterministic(leafSize: Int) -> SplitStrategy {
        precondition(leafSize >= 1, "SplitStrategy.deterministic(leafSize:) needs a leaf size of at least 1, got \(leafSize)")
        return SplitStrategy(kind: .deterministic(leafSize: leafSize))
    }

    public var description: String {
        switch kind {
        case .adaptive: return "adaptive"
        case .evenly: return "evenly"
        case .chunks(let n): return n == 1 ? "perItem" : "chunks(of: \(n))"
        case .deterministic(let n): return n == 4_096 ? "deterministic" : "deterministic(leafSize: \(n))"
        }
    }
}

/// Where and how a pipeline runs (carried by every stage, set at the base or by `split(_:)`).
///
/// Stored as one enum, so that it counts as a single field: the optimiser keeps a pipeline in
/// registers, and so sees each stage's closure where the terminal calls it, only while the
/// pipeline has at most six fields in all (`shouldExpand` in the Swift optimiser). A struct of
/// an optional pool and a strategy would be two, and a zipped pipeline of two collections
/// with a `map` on top would be seven.
public struct _ParallelOptions: Sendable {
    @usableFromInline
    enum Storage: Sendable {
        case currentPool(SplitStrategy)
        case pool(ThreadPool, SplitStrategy)
    }

    @usableFromInline var storage: Storage

    /// The pool; `nil` means the current worker's pool, else `ThreadPool.shared`.
    @inlinable
    public var pool: ThreadPool? {
        get {
            switch storage {
            case .currentPool: return nil
            case .pool(let pool, _): return pool
            }
        }
        set { self = _ParallelOptions(pool: newValue, strategy: strategy) }
    }

    @inlinable
    public var strategy: SplitStrategy {
        get {
            switch storage {
            case .currentPool(let strategy), .pool(_, let strategy): return strategy
            }
        }
        set { self = _ParallelOptions(pool: pool, strategy: newValue) }
    }

    @inlinable
    public init(pool: ThreadPool?, strategy: SplitStrategy) {
        storage = pool.map { .pool($0, strategy) } ?? .currentPool(strategy)
    }
}

extension ParallelSequence {
    /// The same pipeline, divided among threads by `strategy`.
    ///
    /// ```swift
    /// let sum = data.parallel.split(.evenly).sum()
    /// ```
    @inlinable
    public func split(_ strategy: SplitStrategy) -> Self {
        var copy = self
        copy._options.strategy = strategy
        return copy
    }
}
