/// State made once per thread of a loop, not once per element: `forEach(makingState:_:)` and
/// `map(makingState:_:)`.
///
/// A loop's ranges each *borrow* a state for one batch of positions and give it back after it.
/// Given-back states wait, newest on top, in the loop's `_StatePool`; a range borrows the newest
/// one and `makeState()` runs only when none is free. So a state is made only when one more
/// thread than ever before is inside the loop at the same time: at most once per thread that
/// takes part (the pool's workers and the calling thread), however often the loop is split or
/// stolen. The exception is a body that itself waits inside a nested parallel call: while it
/// holds a state, its thread may run another range of the same loop, which needs a second one.
///
/// A state is used by one range at a time and may move to another thread between batches
/// (through the pool's lock, which orders every use before the next): keep no thread identity
/// in it.

/// The free states of one loop (or one `map(makingState:)` pipeline).
// @unchecked Sendable: `idle` is only touched under its lock; a borrowed state belongs to its
// borrower alone until it is given back, and the lock's release/acquire pair orders the
// borrower's last use before the next borrower's first (so `State` need not be `Sendable`:
// every state comes from the `@Sendable` `make`, which cannot share it with anyone).
@usableFromInline
final class _StatePool<State>: @unchecked Sendable {
    @usableFromInline let make: @Sendable () -> State
    private let idle = FutexLocked<[State]>([])

    @inlinable
    init(make: @escaping @Sendable () -> State) { self.make = make }

    /// The newest free state, or a new one.
    @usableFromInline
    func borrow() -> State {
        if let state = idle.withLock({ $0.popLast() }) { return state }
        return make()
    }

    /// Returns a borrowed state for the next range.
    @usableFromInline
    func giveBack(_ state: State) {
        idle.withLock { $0.append(state) }
    }
}

extension ParallelSequence {
    /// Calls `body` on every element, in parallel, with a state of its thread: a scratch
    /// buffer, a random-number generator, a cache, made by `makeState` once per thread that
    /// takes part rather than once per element.
    ///
    /// ```swift
    /// try images.parallel.forEach(makingState: { ScratchBuffer(capacity: 1 << 20) }) { scratch, image in
    ///     try image.writeThumbnail(using: &scratch)
    /// }
    /// ```
    ///
    /// **How often `makeState` runs:** at most once per thread inside the loop at the same time,
    /// so at most `pool.threadCount + 1` times per call (the `+ 1` is a calling thread that is not
    /// a worker), whatever the split strategy and however the loop is stolen. More only when
    /// `body` itself waits in a nested parallel call, since its thread may then run another part
    /// of this loop. A state is used by one thread at a time, but may move between threads
    /// between batches of elements. The states are released when the call returns.
    /// - Throws: the first error `body` throws; the other ranges then stop early.
    @inlinable
    @inline(__always)
    public func forEach<State, E: Error>(
        makingState makeState: @escaping @Sendable () -> State,
        _ body: @Sendable (inout State, Element) throws(E) -> Void
    ) throws(E) where Failure == Never {
        try _forEach(makingState: makeState, body)
    }

    /// `forEach(makingState:_:)` on a pipeline with a throwing stage.
    ///
    /// - Throws: the first error of the pipeline's stages or of `body`; the loop then stops.
    @inlinable
    @inline(__always)
    public func forEach<State>(
        makingState makeState: @escaping @Sendable () -> State,
        _ body: @Sendable (inout State, Element) throws -> Void
    ) throws where Failure == any Error {
        try _forEach(makingState: makeState, body)
    }

    /// Both `forEach(makingState:_:)`s: the stages' errors are of type `E` or there are none.
    @inlinable
    @inline(__always)
    func _forEach<State, E: Error>(
        makingState makeState: @escaping @Sendable () -> State,
        _ body: @Sendable (inout State, Element) throws(E) -> Void
    ) throws(E) {
        let control = _ParallelControl()
        let states = _StatePool(make: makeState)
        withoutActuallyEscaping(body) { body in
            _runFold(
                control: control, initial: (), identity: {},
                fold: { _, positions in
                    var sink = _StatefulForEachSink(state: states.borrow(), body: body, control: control)
                    _ = self._drive(positions, into: &sink)
                    states.giveBack(sink.state)
                }, combine: { _, _ in })
        }
        try control.rethrow(as: E.self)
    }

    /// Transforms every element with a state of its thread (see `forEach(makingState:_:)`):
    /// `makeState` runs once per thread that takes part, not once per element.
    ///
    /// ```swift
    /// let digests = files.parallel.map(makingState: { Hasher.Scratch() }) { scratch, file in
    ///     scratch.digest(of: file)
    /// }.collect()
    /// ```
    ///
    /// **How often `makeState` runs:** as for `forEach(makingState:_:)`, at most once per thread
    /// inside the loop at the same time; the states belong to this pipeline value, so a pipeline
    /// run by several terminals reuses them, and they are released with it. A `zip` or
    /// `enumerated()` on top reads elements one at a time, borrowing a state for each.
    @inlinable
    public func map<State, T: Sendable>(
        makingState makeState: @escaping @Sendable () -> State,
        _ transform: @escaping @Sendable (inout State, Element) -> T
    ) -> ParallelStatefulMap<Self, State, T> {
        ParallelStatefulMap(base: self, states: _StatePool(make: makeState), transform: transform)
    }
}

/// The elements of `Base`, transformed with a state of the thread. Made by
/// `map(makingState:_:)`.
///
/// ```swift
/// let lengths = lines.parallel.map(makingState: { [UInt8]() }) { buffer, line in
///     buffer.removeAll(keepingCapacity: true)
///     buffer.append(contentsOf: line.utf8)
///     return buffer.count
/// }.collect()
/// ```
public struct ParallelStatefulMap<Base: ParallelSequence, State, Element: Sendable>: ParallelSequence, _ParallelStage {
    public typealias Failure = Base.Failure
    public var _base: Base
    @usableFromInline let states: _StatePool<State>
    @usableFromInline let transform: @Sendable (inout State, Base.Element) -> Element

    @inlinable
    init(base: Base, states: _StatePool<State>, transform: @escaping @Sendable (inout State, Base.Element) -> Element) {
        self._base = base
        self.states = states
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        var stage = _StatefulMapSink(inner: sink, state: states.borrow(), transform: transform)
        defer {
            sink = stage.inner
            states.giveBack(stage.state)
        }
        return _base._drive(positions, into: &stage)
    }
}

extension ParallelStatefulMap: IndexedParallelSequence where Base: IndexedParallelSequence {
    @inlinable
    public func _element(at position: Int) -> Element {
        var state = states.borrow()
        defer { states.giveBack(state) }
        return transform(&state, _base._element(at: position))
    }
}

@usableFromInline
struct _StatefulMapSink<Inner: _ParallelSink, Input, State>: _ForwardingSink {
    @usableFromInline var inner: Inner
    @usableFromInline var state: State
    @usableFromInline let transform: @Sendable (inout State, Input) -> Inner.Input

    @inlinable
    init(inner: Inner, state: State, transform: @escaping @Sendable (inout State, Input) -> Inner.Input) {
        self.inner = inner
        self.state = state
        self.transform = transform
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        inner.consume(position, transform(&state, element))
    }
}

@usableFromInline
struct _StatefulForEachSink<Input, State, E: Error>: _ControlledSink {
    @usableFromInline var state: State
    @usableFromInline let body: @Sendable (inout State, Input) throws(E) -> Void
    @usableFromInline let control: _ParallelControl

    @inlinable
    init(state: State, body: @escaping @Sendable (inout State, Input) throws(E) -> Void, control: _ParallelControl) {
        self.state = state
        self.body = body
        self.control = control
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        do throws(E) {
            try body(&state, element)
            return true
        } catch {
            control.fail(error)
            return false
        }
    }
}
