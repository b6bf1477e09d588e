import Synchronization

/// Parallel sort: sort pieces in parallel with the standard library's sort, then merge them in
/// parallel, ping-ponging between the collection and one scratch copy. O(n log n). Stable as
/// long as the standard library's sort is (it is today, though not documented as guaranteed):
/// merges keep ties in order.

extension MutableCollection where Self: RandomAccessCollection, Element: Sendable {
    /// Sorts the collection in place, in parallel on `pool` (the current worker's pool, else
    /// `ThreadPool.shared`), ordered by `areInIncreasingOrder`. Equal elements keep their order
    /// (see the note at the top of this file).
    ///
    /// ```swift
    /// var people = loadPeople()
    /// people.parallelSort(by: { $0.age < $1.age })
    /// ```
    /// - Throws: the first error the comparator throws, once the sort has finished; the
    ///   collection then holds its elements in an unspecified order, none lost or duplicated.
    ///   From the first error on, every comparison answers `false` ("equal") without calling
    ///   the comparator, so each phase still ends with a permutation of its input.
    @inlinable
    public mutating func parallelSort<E: Error>(
        on pool: ThreadPool? = nil,
        by areInIncreasingOrder: @Sendable (Element, Element) throws(E) -> Bool
    ) throws(E) {
        let pool = pool ?? ThreadPool.currentOrShared
        let failure = _SortFailure<E>()
        let sorted: Void? = withoutActuallyEscaping(areInIncreasingOrder) { less in
            // SAFETY: the storage is valid and exclusively ours for the closure, and the sort's
            // joins all finish inside it.
            unsafe withContiguousMutableStorageIfAvailable { buffer in
                unsafe parallelSortBuffer(buffer, on: pool, order: _ClosureOrder(less: less, failure: failure))
            }
        }
        if sorted != nil {
            if let error = failure.firstError { throw error }
            return
        }
        // No contiguous storage: sort a copy, then write it back (only when it succeeded).
        var copy = Array(self)
        try copy.parallelSort(on: pool, by: areInIncreasingOrder)
        var i = startIndex
        for element in copy {
            self[i] = element
            formIndex(after: &i)
        }
    }

    /// Sorts the collection in place in ascending order, in parallel on `pool` (the current
    /// worker's pool, else `ThreadPool.shared`).
    ///
    /// ```swift
    /// var numbers = (0..<4_000_000).map { _ in Int.random(in: 0..<1_000_000) }
    /// numbers.parallelSort()
    /// ```
    @inlinable
    public mutating func parallelSort(on pool: ThreadPool? = nil) where Element: Comparable {
        let pool = pool ?? ThreadPool.currentOrShared
        // `<` itself, statically: the pieces are sorted by the standard library's specialised
        // `sort()` and merged with inlined comparisons (a closure would cost a call per comparison).
        // SAFETY: as in `parallelSort(by:)`.
        let sorted: Void? = unsafe withContiguousMutableStorageIfAvailable { buffer in
            unsafe parallelSortBuffer(buffer, on: pool, order: _NaturalOrder<Element>())
        }
        if sorted == nil { parallelSort(on: pool, by: { $0 < $1 }) }
    }
}

/// How a sort compares elements: statically, so that each order specialises the whole sort.
public protocol _SortOrder: Sendable {
    associatedtype Element
    associatedtype Failure: Error
    func less(_ a: Element, _ b: Element) throws(Failure) -> Bool
    /// Sorts a piece sequentially (with the standard library's sort).
    func sortPiece(_ piece: UnsafeMutableBufferPointer<Element>) throws(Failure)
}

/// `<` of a `Comparable` element type.
@usableFromInline
struct _NaturalOrder<Element: Comparable>: _SortOrder {
    @inlinable init() {}

    @inlinable
    func less(_ a: Element, _ b: Element) -> Bool { a < b }

    @inlinable
    func sortPiece(_ piece: UnsafeMutableBufferPointer<Element>) {
        // SAFETY: the piece is a valid, initialised range the caller owns for the call.
        var piece = unsafe piece  // sorting through a copy of the pointer sorts the memory itself
        unsafe piece.sort()
    }
}

/// A comparator closure that may throw, made total for the sort: its first error is kept in
/// `failure`, and every comparison answers `false` from then on. A sort or merge whose
/// comparisons all answer is a permutation of its input whatever the answers, so a throw
/// midway never loses or duplicates an element (an early return from a merge would: half of
/// its output would be stale copies).
@usableFromInline
struct _ClosureOrder<Element, ComparatorFailure: Error>: _SortOrder {
    /// Comparisons never throw (see above).
    @usableFromInline typealias Failure = Never

    @usableFromInline let comparator: @Sendable (Element, Element) throws(ComparatorFailure) -> Bool
    @usableFromInline let failure: _SortFailure<ComparatorFailure>

    @inlinable
    init(less: @escaping @Sendable (Element, Element) throws(ComparatorFailure) -> Bool, failure: _SortFailure<ComparatorFailure>) {
        comparator = less
        self.failure = failure
    }

    @inlinable
    func less(_ a: Element, _ b: Element) -> Bool {
        if ComparatorFailure.self == Never.self { return (try? comparator(a, b)) ?? false }  // cannot fail
        if failure.hasFailed { return false }
        do throws(ComparatorFailure) {
            return try comparator(a, b)
        } catch {
            failure.record(error)
            return false
        }
    }

    @inlinable
    func sortPiece(_ piece: UnsafeMutableBufferPointer<Element>) {
        // SAFETY: as in `_NaturalOrder.sortPiece`.
        var piece = unsafe piece  // sorting through a copy of the pointer sorts the memory itself
        unsafe piece.sort { a, b in less(a, b) }
    }
}

/// The first error of a sort's comparator, shared by the sort's threads.
@usableFromInline
final class _SortFailure<Failure: Error>: @unchecked Sendable {  // `error` under `lock`; `failed` atomic
    private let failed = Atomic<Bool>(false)
    private let lock = FutexLock()
    private var error: Failure?

    @usableFromInline init() {}

    /// Relaxed: a hint that only saves comparator calls; the error itself is read under the lock.
    @usableFromInline var hasFailed: Bool { failed.load(ordering: .relaxed) }

    @usableFromInline
    func record(_ error: Failure) {
        lock.withLock { if self.error == nil { self.error = error } }
        failed.store(true, ordering: .relaxed)
    }

    /// Read after the sort has returned (its joins ordered every `record` before it).
    @usableFromInline var firstError: Failure? { lock.withLock { error } }
}

/// Pieces below this many elements are sorted (or merged) sequentially: parallelism pays for
/// itself only on pieces of tens of microseconds.
@usableFromInline let sequentialSortSize = 65_536
@usableFromInline let sequentialMergeSize = 16_384

/// A buffer and its scratch twin, shared by the joins of one sort (disjoint ranges per branch).
@usableFromInline
// @unsafe: two raw buffers; users keep to their own index ranges and the buffers' lifetime.
@unsafe
struct SortBuffers<Element>: @unchecked Sendable {  // branches touch disjoint index ranges
    @usableFromInline let data: UnsafeMutableBufferPointer<Element>
    @usableFromInline let scratch: UnsafeMutableBufferPointer<Element>

    @inlinable
    init(data: UnsafeMutableBufferPointer<Element>, scratch: UnsafeMutableBufferPointer<Element>) {
        // SAFETY: only stores the buffers (see the type).
        unsafe self.data = data
        unsafe self.scratch = scratch
    }
}

/// # Safety
/// `data` is initialised and stays valid, and nobody else touches it, until this returns.
@inlinable
func parallelSortBuffer<Order: _SortOrder>(
    _ data: UnsafeMutableBufferPointer<Order.Element>, on pool: ThreadPool, order: Order
) throws(Order.Failure) where Order.Element: Sendable {
    let n = data.count
    // SAFETY: `data` is the caller's (see # Safety); `scratch` is allocated here for `n`
    // elements and freed after the sort, whose joins all finish inside `install`.
    if n <= sequentialSortSize {
        unsafe try order.sortPiece(data)
        return
    }
    let scratch = UnsafeMutableBufferPointer<Order.Element>.allocate(capacity: n)
    // Scratch slots must hold valid elements before they are assigned to: copies, except for
    // trivial types, whose assignment is a plain store into any memory.
    let isTrivial = _isPOD(Order.Element.self)
    if !isTrivial { _ = unsafe scratch.initialize(from: data) }
    defer {
        if !isTrivial { unsafe scratch.deinitialize() }
        unsafe scratch.deallocate()
    }
    let buffers = unsafe SortBuffers(data: data, scratch: scratch)
    try pool.install { () throws(Order.Failure) in
        unsafe try sortRange(buffers, 0, n, intoScratch: false, on: pool, order: order)
    }
}

/// Sorts `data[lo..<hi]` and leaves the result in `data` or, when `intoScratch`, in `scratch`.
/// The halves are sorted into the other buffer and merged into the target, so every level of
/// the recursion moves each element once (no copying back).
///
/// # Safety
/// `lo..<hi` lies inside both buffers, which stay valid until this returns; no other thread
/// touches that range meanwhile.
@inlinable
func sortRange<Order: _SortOrder>(
    _ b: SortBuffers<Order.Element>, _ lo: Int, _ hi: Int, intoScratch: Bool, on pool: ThreadPool,
    order: Order
) throws(Order.Failure) where Order.Element: Sendable {
    // SAFETY: every access stays in `lo..<hi` (see # Safety); the two halves the join runs in
    // parallel are disjoint.
    if hi - lo <= sequentialSortSize {
        unsafe try order.sortPiece(UnsafeMutableBufferPointer(rebasing: b.data[lo..<hi]))
        if intoScratch {
            for i in lo..<hi { unsafe b.scratch[i] = b.data[i] }
        }
        return
    }
    let mid = lo + (hi - lo) / 2
    _ = try pool.join(
        { () throws(Order.Failure) in unsafe try sortRange(b, lo, mid, intoScratch: !intoScratch, on: pool, order: order) },
        { () throws(Order.Failure) in unsafe try sortRange(b, mid, hi, intoScratch: !intoScratch, on: pool, order: order) })
    let (source, target) = unsafe intoScratch ? (b.data, b.scratch) : (b.scratch, b.data)
    unsafe try merge(source, lo, mid, mid, hi, into: target, at: lo, on: pool, order: order)
}

/// Merges `src[a0..<a1]` and `src[b0..<b1]` (both sorted) into `dst` starting at `d`, in
/// parallel: split the longer run at its middle, find the split point in the other run by binary
/// search, and merge the two halves independently.
///
/// # Safety
/// The runs lie inside `src`, `dst[d..<d + total]` inside `dst`, both valid until this returns;
/// no other thread touches those ranges meanwhile.
@inlinable
func merge<Order: _SortOrder>(
    _ src: UnsafeMutableBufferPointer<Order.Element>, _ a0: Int, _ a1: Int, _ b0: Int, _ b1: Int,
    into dst: UnsafeMutableBufferPointer<Order.Element>, at d: Int, on pool: ThreadPool,
    order: Order
) throws(Order.Failure) where Order.Element: Sendable {
    let total = (a1 - a0) + (b1 - b0)
    // SAFETY: pivots and probes are inside the runs; the halves handed to the join read disjoint
    // parts of the runs and write disjoint parts of `dst` (split points from the binary search).
    if total <= sequentialMergeSize {
        unsafe try mergeSequentially(src, a0, a1, b0, b1, into: dst, at: d, order: order)
        return
    }
    let buffers = unsafe SortBuffers(data: src, scratch: dst)
    if a1 - a0 >= b1 - b0 {
        // Split the left run; elements of the right run equal to the pivot go after it (stable).
        let am = a0 + (a1 - a0) / 2
        let pivot = unsafe src[am]
        var lo = b0, hi = b1
        while lo < hi {  // first index in the right run whose element is not less than the pivot
            let m = lo + (hi - lo) / 2
            if unsafe try order.less(src[m], pivot) { lo = m + 1 } else { hi = m }
        }
        let bm = lo
        let dm = d + (am - a0) + (bm - b0)
        _ = try pool.join(
            { () throws(Order.Failure) in
                unsafe try merge(buffers.data, a0, am, b0, bm, into: buffers.scratch, at: d, on: pool, order: order)
            },
            { () throws(Order.Failure) in
                unsafe try merge(buffers.data, am, a1, bm, b1, into: buffers.scratch, at: dm, on: pool, order: order)
            })
    } else {
        // Split the right run; elements of the left run equal to the pivot go before it (stable).
        let bm = b0 + (b1 - b0) / 2
        let pivot = unsafe src[bm]
        var lo = a0, hi = a1
        while lo < hi {  // first index in the left run whose element is greater than the pivot
            let m = lo + (hi - lo) / 2
            if unsafe try order.less(pivot, src[m]) { hi = m } else { lo = m + 1 }
        }
        let am = lo
        let dm = d + (am - a0) + (bm - b0)
        _ = try pool.join(
            { () throws(Order.Failure) in
                unsafe try merge(buffers.data, a0, am, b0, bm, into: buffers.scratch, at: d, on: pool, order: order)
            },
            { () throws(Order.Failure) in
                unsafe try merge(buffers.data, am, a1, bm, b1, into: buffers.scratch, at: dm, on: pool, order: order)
            })
    }
}

/// # Safety
/// As `merge`.
@inlinable
func mergeSequentially<Order: _SortOrder>(
    _ src: UnsafeMutableBufferPointer<Order.Element>, _ a0: Int, _ a1: Int, _ b0: Int, _ b1: Int,
    into dst: UnsafeMutableBufferPointer<Order.Element>, at d: Int, order: Order
) throws(Order.Failure) {
    var i = a0, j = b0, k = d
    // SAFETY: `i` and `j` stay inside their runs, `k` below `d + total` (see # Safety).
    while i < a1 && j < b1 {
        if unsafe try order.less(src[j], src[i]) {  // strictly less: ties take the left run (stable)
            unsafe dst[k] = src[j]
            j += 1
        } else {
            unsafe dst[k] = src[i]
            i += 1
        }
        k += 1
    }
    while i < a1 { unsafe dst[k] = src[i]; i += 1; k += 1 }
    while j < b1 { unsafe dst[k] = src[j]; j += 1; k += 1 }
}
