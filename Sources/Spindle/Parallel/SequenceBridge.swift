/// Parallel loops over ordinary sequences: lines of a file, a generator, a linked structure,
/// anything that can only be read in order, one element after the other (rayon's `par_bridge`).
///
/// The sequence is read by the terminal's own thread into a *window* of elements; the window is
/// then folded by the workers, while the calling thread reads the next window, then helps. With
/// the default strategy a window is handed out in items of 1/8 of a thread's share, first come
/// first served, so every idle thread starts at once and the window ends with a short item (a
/// heartbeat split, as a collection's loop gets, came too late for windows this short); a fixed
/// strategy (`.deterministic`, `.chunks`) divides each window as it divides a range. Positions are the
/// elements' offsets in the sequence, so results that keep an order (`collect`, `reduce`,
/// `first(where:)`) keep the sequence's order, and a search stops reading once it has its answer.
///
/// At most two windows are held at once (the one folded and the one being read): together at
/// most `maxBuffered` elements. Windows start at 64 elements and double up to half of it, so a
/// short sequence starts in parallel soon and a long one pays one window's barrier per few
/// thousand elements. The window sizes depend only on `maxBuffered`, never on the thread count,
/// so `.deterministic` gives the same result on every pool.

extension Sequence where Self: Sendable, Element: Sendable {
    /// The elements of this sequence as a parallel sequence, read in order and processed on
    /// the current pool (the shared one outside any pool).
    ///
    /// ```swift
    /// let lines = AnySequence { AnyIterator { readLine() } }
    /// let total = ParallelBridge(lines).map(parseRecord).map(\.amount).sum()
    /// let squares = sequence(first: 1) { $0 < 1_000 ? $0 + 1 : nil }.parallelBridge.map { $0 * $0 }.collect()
    /// ```
    ///
    /// See ``ParallelBridge`` for how the sequence is read and buffered.
    @inlinable
    public var parallelBridge: ParallelBridge<Self> { ParallelBridge(self) }

    /// The elements of this sequence as a parallel sequence on `pool`, read in order, holding at
    /// most `maxBuffered` elements at a time.
    ///
    /// ```swift
    /// let sizes = fileNames.parallelBridge(on: pool, maxBuffered: 64).map(fileSize).collect()
    /// ```
    ///
    /// - Precondition: `maxBuffered >= 2` (a window being processed and one being read).
    @inlinable
    public func parallelBridge(
        on pool: ThreadPool? = nil, maxBuffered: Int = ParallelBridge<Self>.defaultMaxBuffered
    )
        -> ParallelBridge<Self>
    {
        ParallelBridge(self, on: pool, maxBuffered: maxBuffered)
    }
}

/// The elements of an ordinary sequence, read in order by one thread at a time and processed in
/// parallel: every adaptor and terminal of ``ParallelSequence`` works on it.
///
/// Use it for sequences that are not random-access collections, and so have no `.parallel`
/// (a collection's `.parallel` divides its index range directly, which is faster):
///
/// ```swift
/// // Lines of standard input, parsed in parallel, in input order.
/// let records = ParallelBridge(AnySequence { AnyIterator { readLine() } })
///     .compactMap { Record(line: $0) }
///     .collect()
/// ```
///
/// How it runs:
/// - **Reading.** A terminal makes one iterator and reads it in *windows*, on the thread that
///   called the terminal only (so a sequence whose closures belong to the caller's actor is read
///   there): a window is read while the workers process the one before it, and processed once it
///   is complete. At most two windows, together at most `maxBuffered` elements, are held at once.
/// - **Order.** Positions are offsets in the sequence: `collect()` returns the elements in the
///   sequence's order, `reduce` combines them in that order, and `first(where:)` finds the first
///   match. The closures themselves run in any order, as on a collection.
/// - **Stopping.** After an error, a `contains` hit or a `first(where:)` hit, no further window
///   is read: at most one window beyond the stopping element has been.
/// - **One terminal at a time.** A bridge owns its sequence (the initializer takes it as
///   `sending`, so it may be any sequence, `Sendable` or not). Its terminals each make their own
///   iterator, and run one at a time: a terminal on a bridge that is already running one, from
///   another thread, waits for it. (From inside the running terminal's own closures it would wait
///   forever: use a second bridge there.)
public struct ParallelBridge<Base: Sequence>: ParallelSequence where Base.Element: Sendable {
    public typealias Element = Base.Element

    /// The `maxBuffered` of a bridge made without one: two windows of 4,096 elements.
    public static var defaultMaxBuffered: Int { 8_192 }

    @usableFromInline let source: _SequenceBridge<Base>
    public var _options: _ParallelOptions

    /// A bridge over `base` on `pool` (nil: the current pool, or the shared one outside any),
    /// holding at most `maxBuffered` elements of it at a time.
    ///
    /// ```swift
    /// let words = ParallelBridge(text.split(separator: " ").lazy.map(String.init), maxBuffered: 1_024)
    /// ```
    ///
    /// - Precondition: `maxBuffered >= 2`.
    @inlinable
    public init(_ base: sending Base, on pool: ThreadPool? = nil, maxBuffered: Int = Self.defaultMaxBuffered) {
        precondition(
            maxBuffered >= 2, "ParallelBridge: maxBuffered must be at least 2 (a window processed and one read), got \(maxBuffered)")
        // The reading loop is formed here, in the caller's module, where `Base` is known: it
        // is specialised and inlined there, so reading costs what a `for` loop over `base`
        // does, plus one indirect call per window (from the engine, which sees no `Base`).
        source = _SequenceBridge(base, maxBuffered: maxBuffered) { iterator, window, count in
            while window.count < count {
                guard let element = iterator.next() else { return false }
                window.append(element)
            }
            return true
        }
        _options = _ParallelOptions(pool: pool, strategy: .adaptive)
    }

    /// Not known before the sequence is read: every terminal runs through `_bridge`.
    public var _positionCount: Int { 0 }

    @inlinable
    public var _bridge: _SequenceBridgeBase? { source }

    @inlinable
    @inline(__always)
    public func _drive<Sink: _ParallelSink>(_ positions: Range<Int>, into sink: inout Sink) -> Bool
    where Sink.Input == Element {
        // One read of the window per range (a class property: each access is checked).
        let window = source.current
        let start = source.currentStart
        for position in positions where !sink.consume(position, window[position &- start]) { return false }
        return true
    }
}

/// What the fold engine needs of a bridge, whatever its sequence: runs, and windows read and
/// shown one after the other (`_FoldRun.runWindows`). Subclassed only by `_SequenceBridge`.
// @unchecked Sendable: no state of its own; the subclass says why its state is safe to share.
public class _SequenceBridgeBase: @unchecked Sendable {
    @usableFromInline init() {}

    /// Starts a terminal's run: waits for any other run of this bridge, makes an iterator.
    @usableFromInline func beginRun() { fatalError("abstract") }

    /// Ends the run: drops the iterator and the windows, lets the next run start.
    @usableFromInline func endRun() { fatalError("abstract") }

    /// Reads the next window from the iterator (empty once it is exhausted), on the run's thread.
    @usableFromInline func readNextWindow() { fatalError("abstract") }

    /// Makes the window last read the current one, and returns its positions (nil if empty).
    @usableFromInline func showNextWindow() -> Range<Int>? { fatalError("abstract") }
}

/// A bridge's sequence, its run's iterator and its two windows.
///
/// Ownership: `base`, `iterator` and `next` are touched only by the run holding `runLock`, on
/// that run's own thread. `current` is written by that thread between windows only, before the
/// window's first job (a queued-items helper, or a join's published half) is pushed (the push
/// releases it to the thief), and only read while that window's fold runs; the fold's end (each
/// thief's release on its job's `done`, acquired when the job is taken back or waited for)
/// orders the fold's reads before the next write.
// @unchecked Sendable: every field is used under the discipline above.
@usableFromInline
final class _SequenceBridge<Base: Sequence>: _SequenceBridgeBase, @unchecked Sendable where Base.Element: Sendable {
    private let runLock = FutexLock()
    private let base: Base
    private let maxBuffered: Int
    private var iterator: Base.Iterator?
    private var exhausted = false
    /// The window being folded, and the offset of its first element in the sequence.
    @usableFromInline var current: ContiguousArray<Base.Element> = []
    @usableFromInline var currentStart = 0
    /// The window being read, and the offset of its first element.
    private var next: ContiguousArray<Base.Element> = []
    private var nextWindowSize = 0
    /// Appends elements from the iterator to the window until it holds `count`; false once the
    /// iterator is exhausted (formed by `ParallelBridge.init`, specialised on `Base`).
    private let fill: Fill

    @usableFromInline
    typealias Fill = (inout Base.Iterator, inout ContiguousArray<Base.Element>, _ count: Int) -> Bool

    /// The first window's size: small, so that a short or slow sequence starts in parallel soon.
    static var firstWindowSize: Int { 64 }

    @usableFromInline
    init(_ base: Base, maxBuffered: Int, fill: @escaping Fill) {
        self.base = base
        self.maxBuffered = maxBuffered
        self.fill = fill
    }

    override func beginRun() {
        runLock.lock()
        iterator = base.makeIterator()
        exhausted = false
        current = []
        currentStart = 0
        next = []
        nextWindowSize = Swift.min(Self.firstWindowSize, maxBuffered / 2)
    }

    override func endRun() {
        iterator = nil
        current = []
        next = []
        runLock.unlock()
    }

    override func readNextWindow() {
        next.removeAll(keepingCapacity: true)
        guard !exhausted else { return }
        next.reserveCapacity(nextWindowSize)
        // `beginRun` made the iterator; only `endRun` drops it. Once exhausted it is not asked
        // again: an iterator need not keep returning nil once it has.
        if !fill(&iterator!, &next, nextWindowSize) { exhausted = true }
        nextWindowSize = Swift.min(nextWindowSize * 2, maxBuffered / 2)
    }

    override func showNextWindow() -> Range<Int>? {
        if next.isEmpty { return nil }
        let start = currentStart + current.count
        swap(&current, &next)  // the old window's storage is reused for the next read
        currentStart = start
        return start..<start + current.count
    }
}
