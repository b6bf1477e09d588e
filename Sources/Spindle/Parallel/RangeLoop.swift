/// Range loops: a pipeline's per-range loop as a closure that a thread other than the
/// terminal's caller can run at the speed of the inlined loop.
///
/// Why. On the calling thread, a terminal's fold inlines into the caller, where every stage's
/// closure is a known literal, and the loop is the one a user would write. A thread that takes
/// a piece of the loop runs the fold as a stored closure instead; that closure captures the
/// pipeline (its data and its stage closures alike), so each stage's closure is called through
/// a pointer per element: 11.5 times the instructions of the sequential loop for
/// `map { $0 &* 3 }.reduce(0) { $0 &+ $1 }` (README, `map-reduce-as-thief`).
///
/// How. Swift's optimiser specialises a closure on its captured values when *every* captured
/// value is a constant: a function literal, or a closure that itself captures only constants
/// (`ConstantCapturePropagation` in the Swift compiler, 6.3). So a range loop is built stage by
/// stage from closures that capture nothing but the stage's own closure and the loop below
/// them, and it takes the pipeline's data as an argument. When every stage closure of the
/// pipeline is a literal that captures nothing (`map { $0 &* 3 }`, `filter { $0 > 0 }`), the
/// whole loop becomes one specialised function with no context, whose body is the inlined
/// loop, and the terminal's `stolenFold` (`_FoldRun`) calls it once per batch. When some
/// closure captures a value, the loop would stay a chain of indirect calls, worse than
/// `_drive`; the terminal then keeps `_drive` (`_specialisedRangeLoop(_:)` tells the two apart
/// by the closure's context). The calling thread's `fold` never uses a range loop: it inlines
/// `_drive`, which is already the hand-written loop there (and a fold that held both paths was
/// no longer inlined: 1.87× the sequential instructions for `sum()`, measured).
///
/// Which terminals. `sum()`, `min()`, `max()` and both `collect()`s, whose steps capture only
/// the library's own literals. A terminal that takes the user's closure (`reduce`,
/// `count(where:)`, `forEach`, …) takes it non-escaping and would need
/// `withoutActuallyEscaping` to capture it. In these generic terminals that yields a
/// reabstraction thunk behind a `mark_dependence` (for the user's `throws(E)` closure, and for a
/// step closure wrapping it alike, read in the SIL), which the optimiser does not count as a
/// constant, so the loop never specialised (`map-reduce-as-thief` stayed at 11.5×); those
/// terminals keep `_drive` on every thread.

/// A terminal's code for one element: feeds `element`, produced at base position `position`,
/// to `sink`; false stops the range (as `_ParallelSink.consume`).
public typealias _ElementStep<Sink, Element> = @Sendable (inout Sink, Int, Element) -> Bool

/// A pipeline's loop over a range of base positions into a terminal's sink (as `_drive`), with
/// the pipeline passed in rather than captured.
public typealias _RangeLoop<Pipeline, Sink> = @Sendable (Pipeline, inout Sink, Range<Int>) -> Bool

extension ParallelSequence {
    /// The default range loop: through `_drive`, with `step` as the last sink. Correct for
    /// every pipeline; a specialised loop only when the pipeline's own stages are (their
    /// closures are read from the pipeline passed in).
    @inlinable
    public func _rangeLoop<Sink: _ParallelSink & SendableMetatype>(_ step: @escaping _ElementStep<Sink, Element>) -> _RangeLoop<Self, Sink>
    {
        { pipeline, sink, positions in
            var stage = _StepSink<Sink, Element>(inner: sink, step: step)
            defer { sink = stage.inner }
            return pipeline._drive(positions, into: &stage)
        }
    }

    /// The range loop into a `Sink` whose step is its `consume`, when it specialised into one
    /// function (see `_specialisedRangeLoop(_:)`).
    @inlinable
    @inline(__always)
    func _specialisedRangeLoop<Sink: _ParallelSink & SendableMetatype>(for _: Sink.Type) -> _RangeLoop<Self, Sink>?
    where Sink.Input == Element {
        _specialisedRangeLoop { (sink: inout Sink, position: Int, element: Element) -> Bool in
            sink.consume(position, element)
        }
    }

    /// The range loop with `step` as the terminal's code, when it specialised into one
    /// function (see the top of this file), else nil: the terminal then drives through
    /// `_drive`. A terminal whose sink holds a closure passes a step that captures it (`min()`
    /// its order), so that it is a constant of the loop rather than a field read per element.
    ///
    /// Debug builds return the loop either way (nothing specialises there), so that the tests
    /// run every terminal through it.
    ///
    /// Release builds do not build one for a loop of fewer than `_rangeLoopMinimumCount`
    /// positions: building a loop that does not specialise (a closure that captures a value)
    /// allocates its chain of closures, about 2,500 instructions per terminal call
    /// (`map-sum-captured-100`), while a thief's share of so short a loop is small.
    @inlinable
    @inline(__always)
    func _specialisedRangeLoop<Sink: _ParallelSink & SendableMetatype>(
        _ step: @escaping _ElementStep<Sink, Element>
    ) -> _RangeLoop<Self, Sink>? {
        #if DEBUG
            return _rangeLoop(step)
        #else
            guard _positionCount >= _rangeLoopMinimumCount else { return nil }
            let loop = _rangeLoop(step)
            return _RangeLoopBox(loop).capturesNothing ? loop : nil
        #endif
    }

    /// Drives `positions` into `sink` through `loop` if there is one, else through `_drive`.
    ///
    /// A terminal's `stolenFold` calls this with the loop it got from `_specialisedRangeLoop`,
    /// so that a thread that took a piece runs the specialised loop (called once per batch of
    /// positions, not per element); with `nil` it is `_drive`.
    @inlinable
    @inline(__always)
    func _drive<Sink: _ParallelSink & SendableMetatype>(
        _ positions: Range<Int>, into sink: inout Sink, using loop: _RangeLoop<Self, Sink>?
    ) -> Bool
    where Sink.Input == Element {
        if let loop { return loop(self, &sink, positions) }
        return _drive(positions, into: &sink)
    }
}

/// The fewest positions a loop needs for its terminal to build a range loop (release builds; see
/// `_specialisedRangeLoop(_:)`): at a few nanoseconds per element, about 50 µs of work.
@inlinable
var _rangeLoopMinimumCount: Int { 16_384 }

/// A terminal's `stolenFold` if it has a range loop, else nil: the closure is made only when it
/// will be used (a closure with captures is an allocation per terminal call).
@inlinable
@inline(__always)
func _stolenFold<Loop, Partial>(
    ifThereIs loop: Loop?, _ fold: @autoclosure () -> @Sendable (inout Partial, Range<Int>) -> Void
) -> (@Sendable (inout Partial, Range<Int>) -> Void)? {
    loop == nil ? nil : fold()
}

/// The last sink of a default range loop: hands each element to the terminal's `step`.
@usableFromInline
struct _StepSink<Inner: _ParallelSink, Input>: _ForwardingSink {
    @usableFromInline var inner: Inner
    @usableFromInline let step: _ElementStep<Inner, Input>

    @inlinable
    init(inner: Inner, step: @escaping _ElementStep<Inner, Input>) {
        self.inner = inner
        self.step = step
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        step(&inner, position, element)
    }
}

/// A range loop held in a struct field, where it keeps the representation it was made with (a
/// closure passed as a generic value would be re-wrapped in a thunk, which has a context).
@usableFromInline
struct _RangeLoopBox<Pipeline, Sink> {
    @usableFromInline let loop: _RangeLoop<Pipeline, Sink>

    @inlinable
    init(_ loop: @escaping _RangeLoop<Pipeline, Sink>) { self.loop = loop }

    /// Whether the closure has no context: it captures nothing, so the optimiser specialised
    /// every captured closure into its body. A performance hint only: either way the loop is
    /// correct.
    @inlinable
    var capturesNothing: Bool {
        // SAFETY: a Swift closure value is two words, its entry point and its context (null when
        // it captures nothing): the function layout of Swift's stable ABI. The bits are only read.
        let words = unsafe unsafeBitCast(self, to: (UnsafeRawPointer, UnsafeRawPointer?).self)
        return unsafe words.1 == nil
    }
}
