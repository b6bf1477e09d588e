/// Parallel prefix sums (scans): `reductions(_:)`, `reductions(_:_:)`, `exclusiveReductions(_:_:)`.
///
/// Named after swift-algorithms' `reductions`, the scan a Swift user already knows; the
/// operation must be associative (as for `reduce`), since the elements are combined in blocks.
///
/// The scan runs in three steps over `threads + 1` blocks of positions (`threads` being the
/// pool's): every block but the last is *summarised* in parallel (the first one is scanned
/// straight into the result, since nothing comes before it; the others only reduced); the
/// block totals are combined in order on the calling thread; then every block but the first is
/// scanned into the result in parallel, from the total of the blocks before it. So each element
/// of a middle block is produced twice (an upstream `map` runs twice for it), and the work is
/// about `(1 + (threads - 1) / (threads + 1))` times a sequential scan's, spread over the threads.

extension IndexedParallelSequence {
    /// The running results of combining the elements in order: an inclusive scan, as
    /// swift-algorithms' `reductions(_:)`.
    ///
    /// ```swift
    /// let prefixSums = [1, 2, 3, 4].parallel.reductions(+)  // [1, 3, 6, 10]
    /// ```
    ///
    /// `combine` must be associative: the elements are combined in blocks on several threads.
    @inlinable
    @inline(__always)
    public func reductions(_ combine: @Sendable (Element, Element) -> Element) -> [Element] {
        withoutActuallyEscaping(combine) { combine in _scan(initial: nil, combine: combine, dropsLast: false) }
    }

    /// `initial`, then the running results of combining it with the elements in order: `count + 1`
    /// elements, as swift-algorithms' `reductions(_:_:)`.
    ///
    /// ```swift
    /// let offsets = [3, 1, 4].parallel.reductions(0, +)  // [0, 3, 4, 8]
    /// ```
    @inlinable
    @inline(__always)
    public func reductions(_ initial: Element, _ combine: @Sendable (Element, Element) -> Element) -> [Element] {
        withoutActuallyEscaping(combine) { combine in _scan(initial: initial, combine: combine, dropsLast: false) }
    }

    /// An exclusive scan: element `i` of the result combines `initial` with the elements before
    /// position `i`, so the result has `count` elements and starts with `initial`.
    ///
    /// ```swift
    /// let starts = lengths.parallel.exclusiveReductions(0, +)  // where each record begins
    /// // [3, 1, 4] -> [0, 3, 4]
    /// ```
    @inlinable
    @inline(__always)
    public func exclusiveReductions(_ initial: Element, _ combine: @Sendable (Element, Element) -> Element) -> [Element] {
        withoutActuallyEscaping(combine) { combine in _scan(initial: initial, combine: combine, dropsLast: true) }
    }

    /// The smallest input a scan divides among threads; below it, the calling thread scans alone.
    @inlinable
    static var _sequentialScanLimit: Int { 16_384 }

    /// The scan behind all three: the running result after position `p` goes to index `p` (no
    /// `initial`) or `p + 1` (after `initial` at index 0), and `dropsLast` leaves out the last
    /// position (whose running result nobody needs).
    @inlinable
    @inline(__always)
    func _scan(initial: Element?, combine: @escaping @Sendable (Element, Element) -> Element, dropsLast: Bool) -> [Element] {
        let count = _positionCount
        let shift = initial == nil ? 0 : 1
        let resultCount = dropsLast ? count : count + shift
        if resultCount == 0 { return [] }
        let written = dropsLast ? count - 1 : count  // positions whose running result is stored
        let pool = _options.pool ?? ThreadPool.currentOrShared
        let blocks = count < Self._sequentialScanLimit ? 1 : pool.threadCount + 1
        // SAFETY: every index `0..<resultCount` is written exactly once before `initializedCount`
        // is set: index 0 by the `initial` store (when there is one), index `p + shift` by the one
        // block that holds position `p < written`; nothing in between throws.
        return unsafe Array(unsafeUninitializedCapacity: resultCount) { buffer, initializedCount in
            let output = unsafe _ScanOutput(base: buffer.baseAddress.unsafelyUnwrapped + shift)
            if let initial { unsafe buffer.baseAddress.unsafelyUnwrapped.initialize(to: initial) }
            // Block `b` holds positions `bound(b)..<bound(b + 1)`; the last one ends at `written`.
            let bound: @Sendable (Int) -> Int = { block in block == blocks ? written : count * block / blocks }
            if blocks == 1 {
                // SAFETY: one block, `0..<written`, written only here.
                _ = unsafe _scanBlock(0..<written, from: initial, combine, into: output)
                initializedCount = resultCount
                return
            }
            // 1. Summaries: block 0 scanned into place, blocks 1..<blocks-1 reduced.
            let totals = _ScanTotals<Element>(count: blocks - 1)
            (0..<blocks - 1).parallel(on: pool).split(.perItem).forEach { block in
                let positions = bound(block)..<bound(block + 1)
                if block == 0 {
                    // SAFETY: the blocks partition `0..<written`; this item alone writes block 0.
                    totals.store(unsafe self._scanBlock(positions, from: initial, combine, into: output), at: 0)
                } else {
                    var sink = _ReduceFromFirstSink<Element, Never>(combine: combine, control: _ParallelControl())
                    _ = self._drive(positions, into: &sink)
                    totals.store(sink.running, at: block)
                }
            }
            // 2. What comes before each block, in order (the loop above has joined every item).
            var carried: [Element?] = [totals.load(0)]
            for block in 1..<blocks - 1 {
                switch (carried[block - 1], totals.load(block)) {
                case (let left?, let right?): carried.append(combine(left, right))
                case (let left, let right): carried.append(left ?? right)
                }
            }
            // 3. Blocks 1..<blocks scanned into place from what comes before them.
            let before = carried
            (1..<blocks).parallel(on: pool).split(.perItem).forEach { block in
                // SAFETY: the blocks partition `0..<written`; this item alone writes this block.
                _ = unsafe self._scanBlock(bound(block)..<bound(block + 1), from: before[block - 1], combine, into: output)
            }
            initializedCount = resultCount
        }
    }

    /// Scans `positions` into `output`, starting from `start` (or from the first element), and
    /// returns the last running result.
    ///
    /// # Safety
    /// `output.base + p` must be uninitialised, in bounds, and written by nobody else for every
    /// `p` in `positions`.
    @unsafe
    @inlinable
    @inline(__always)
    func _scanBlock(
        _ positions: Range<Int>, from start: Element?, _ combine: @escaping @Sendable (Element, Element) -> Element,
        into output: _ScanOutput<Element>
    ) -> Element? {
        guard !positions.isEmpty else { return start }
        var lo = positions.lowerBound
        var running: Element
        if let start {
            running = start
        } else {
            // No running result yet: the first element is its own.
            running = _element(at: lo)
            // SAFETY: `lo` is in `positions` (the caller's obligation covers it).
            unsafe (output.base + lo).initialize(to: running)
            lo += 1
        }
        var sink = unsafe _ScanWriteSink(running: running, combine: combine, output: output)
        _ = unsafe _drive(lo..<positions.upperBound, into: &sink)
        return unsafe sink.running
    }
}

/// Where a scan writes: the running result after position `p` goes to `base[p]` (the result's
/// storage, past the initial value if there is one).
// @unsafe: a raw buffer written at positions the scan promises to hold once each.
@unsafe
@usableFromInline
// @unchecked Sendable: blocks write disjoint indices; the loops' joins order every write before
// the array is returned.
struct _ScanOutput<Element>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Element>

    // SAFETY: only stores the address; `_scan` keeps it in bounds and alive.
    @inlinable
    init(base: UnsafeMutablePointer<Element>) { unsafe self.base = base }
}

/// The running result of a scan, written after each element.
// @unsafe: writes through `_ScanOutput`.
@unsafe
@usableFromInline
struct _ScanWriteSink<Input>: _ParallelSink {
    @usableFromInline var running: Input
    @usableFromInline let combine: @Sendable (Input, Input) -> Input
    @usableFromInline let output: _ScanOutput<Input>

    // SAFETY: only stores its arguments.
    @inlinable
    init(running: Input, combine: @escaping @Sendable (Input, Input) -> Input, output: _ScanOutput<Input>) {
        unsafe self.running = running
        unsafe self.combine = combine
        unsafe self.output = output
    }

    @inlinable
    @inline(__always)
    mutating func consume(_ position: Int, _ element: Input) -> Bool {
        // SAFETY: the sink's own fields; each position belongs to one block and is produced once
        // (`_scanBlock`'s obligation), so the write initialises a slot nobody else touches.
        unsafe running = unsafe combine(running, element)
        unsafe (output.base + position).initialize(to: running)
        return true
    }
}

/// The totals of a scan's first step, one slot per block, each written by the block's item.
// @unchecked Sendable: each slot has one writer, and is read only after the loop that wrote it
// has joined every item (the join's release/acquire pair orders the write before the read).
@safe
@usableFromInline
final class _ScanTotals<Element>: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutableBufferPointer<Element?>

    @inlinable
    init(count: Int) {
        // SAFETY: allocated and initialised here, deinitialised and freed in `deinit`.
        unsafe slots = .allocate(capacity: count)
        unsafe slots.initialize(repeating: nil)
    }

    deinit {
        // SAFETY: the buffer of `init`, initialised, no longer shared.
        unsafe slots.deinitialize()
        unsafe slots.deallocate()
    }

    @inlinable
    func store(_ total: Element?, at block: Int) {
        // SAFETY: `block < count`, and only that block's item writes its slot.
        unsafe slots[block] = total
    }

    @inlinable
    func load(_ block: Int) -> Element? {
        // SAFETY: `block < count`; read after the writers have joined (see the type).
        unsafe slots[block]
    }
}
