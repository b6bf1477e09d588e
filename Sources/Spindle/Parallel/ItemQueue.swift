import Synchronization

/// A few expensive items handed out first come, first served: how a parallel fold divides the
/// last positions of a range (or a whole short `.chunks` loop) when splitting in halves could
/// leave the costliest items together on one thread.
///
/// Halving divides by count, not by cost: of seven items whose cost doubles from one to the
/// next, the upper half holds 112 of the 127 units. Here every participant, the fold's own
/// thread and each helper job it publishes, takes the next unclaimed item with one atomic
/// increment, as a `TaskGroup` or `concurrentPerform` hands out work, so that an expensive item
/// never waits behind another on a busy thread while a thread is free.
///
/// Each item's partial result goes to its own slot; the fold's thread combines the slots in
/// position order once every helper is back (taken back unstarted, or waited for: the helper's
/// releasing store to its job's `done`, acquired by the wait, publishes its slots).
// @unchecked Sendable: `next` is atomic; each slot is written once, by the participant that
// claimed its item, and read only after every claimer has finished (see above).
// @safe: the buffer is owned here, sized `itemCount`, and only indexed by claimed items.
@safe
@usableFromInline
final class _ItemQueue<Partial: Sendable>: @unchecked Sendable {
    /// The positions handed out, in items of `itemSize` (the last one shorter).
    @usableFromInline let lo: Int
    @usableFromInline let hi: Int
    @usableFromInline let itemSize: Int
    @usableFromInline let itemCount: Int
    /// The next item to hand out. Relaxed: claimers need only distinct items (an atomic
    /// increment gives each one to exactly one claimer); results travel through the jobs.
    @usableFromInline let next = Atomic<Int>(0)
    /// One slot per item: nil until its claimer stores its result (or if the loop stopped first).
    @usableFromInline let results: UnsafeMutableBufferPointer<Partial?>

    @inlinable
    init(lo: Int, hi: Int, itemSize: Int) {
        self.lo = lo
        self.hi = hi
        self.itemSize = itemSize
        itemCount = (hi - lo) / itemSize + ((hi - lo) % itemSize == 0 ? 0 : 1)
        // SAFETY: allocated and initialised here, deinitialised and freed in `deinit`.
        unsafe results = UnsafeMutableBufferPointer.allocate(capacity: itemCount)
        unsafe results.initialize(repeating: nil)
    }

    deinit {
        // SAFETY: the buffer of `init`, initialised; nobody else holds it once the queue is gone.
        unsafe results.deinitialize()
        unsafe results.deallocate()
    }

    /// Whether some item is still unclaimed (a hint for publishing another helper).
    @inlinable
    var hasUnclaimedItems: Bool { next.load(ordering: .relaxed) < itemCount }

    /// Claims the next item: its positions, or nil when every item is taken.
    @inlinable
    func claim() -> (item: Int, positions: Range<Int>)? {
        let item = next.wrappingAdd(1, ordering: .relaxed).oldValue  // distinct items; see `next`
        if item >= itemCount { return nil }
        let start = lo + item * itemSize
        return (item, start..<Swift.min(start + itemSize, hi))
    }

    /// Stores the result of `item`, which the caller claimed.
    @inlinable
    func store(_ partial: Partial, for item: Int) {
        // SAFETY: `item < itemCount` (from `claim`), and only its claimer writes its slot.
        unsafe results[item] = partial
    }

    /// Combines every stored result into `partial`, in position order. Call it only once every
    /// claimer has finished (see the type).
    @inlinable
    func combineResults(into partial: inout Partial, _ combine: (Partial, Partial) -> Partial) {
        for item in 0..<itemCount {
            // SAFETY: `item < itemCount`; every claimer has finished (the caller's obligation).
            if let result = unsafe results[item] { partial = combine(partial, result) }
        }
    }
}
