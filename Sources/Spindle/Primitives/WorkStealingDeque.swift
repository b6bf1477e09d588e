import Synchronization

/// A growable Chase–Lev work-stealing deque of one-word values (`JobRef`s, for the scheduler) (Chase & Lev 2005; orderings after
/// Lê, Pop, Cohen & Zappa Nardelli, "Correct and efficient work-stealing for weak memory
/// models", PPoPP 2013).
///
/// One owner pushes and pops at the bottom; any number of thieves steal from the top.
///
/// State: `top ≤ bottom` between operations; the live items are indices `top..<bottom`, stored at
/// `index & mask` of the current ring. `top` only grows (by a thief's or the owner's CAS);
/// `bottom` is written by the owner alone.
///
/// Pairings:
/// - `push`: the slot store, then `bottom` stored *releasing* → a thief's *acquiring* load of
///   `bottom` sees the slot and everything the owner wrote into the job before pushing.
/// - `pop` stores `bottom - 1`, then a sequentially consistent fence, then loads `top`; `steal`
///   loads `top`, a sequentially consistent fence, then loads `bottom`. The two fences order the
///   owner's and a thief's views so that both cannot take the last item; the last item is
///   decided by a CAS on `top` in both.
/// - Growth copies the live items into a new ring and publishes it with a *releasing* store of
///   `ring`, read *acquiring* by thieves. Old rings are kept until the deque dies, because a
///   slow thief may still read from one (its CAS on `top` then decides whether the value counts).
// @safe: the rings are only reached through the deque's own methods, which keep indices in
// bounds (masked) and free the rings only in deinit.
@safe
final class WorkStealingDeque<Element: WordRepresentable>: @unchecked Sendable {  // shared state is only touched through atomics
    // @unsafe: a raw ring of atomic slots; the deque keeps indices masked and frees it in deinit.
    @unsafe
    private struct Ring {
        let slots: UnsafeMutablePointer<Atomic<UInt>>
        let mask: Int
    }

    private let top = Atomic<Int>(0)
    private let padding1 = CacheLinePad()
    private let bottom = Atomic<Int>(0)
    private let padding2 = CacheLinePad()
    /// Points at a `Ring` in `rings`; the owner replaces it on growth.
    private let ring: Atomic<UnsafeMutablePointer<Ring>>
    /// Every ring ever used (owner-only), freed in `deinit`.
    // SAFETY: an empty array of ring pointers.
    private var rings: [UnsafeMutablePointer<Ring>] = unsafe []
    /// The owner's last look at `top` (owner-only). `top` only grows, so this is a lower bound:
    /// a push reloads it only when the ring looks full, and so does not pull the line thieves
    /// write on every steal into the owner's cache on every push.
    private var cachedTop = 0

    init(capacity: Int = 64) {
        // SAFETY: a fresh ring, kept in `rings` until deinit.
        let first = unsafe Self.makeRing(capacity: max(2, capacity.nextPowerOfTwo))
        unsafe ring = Atomic(first)
        unsafe rings.append(first)
    }

    deinit {
        // SAFETY: the deque is going away, so no owner or thief uses any ring; each ring's
        // slots and header were allocated and initialised by `makeRing`.
        while let r = unsafe rings.popLast() {
            unsafe r.pointee.slots.deinitialize(count: r.pointee.mask + 1)
            unsafe r.pointee.slots.deallocate()
            unsafe r.deinitialize(count: 1)
            unsafe r.deallocate()
        }
    }

    private static func makeRing(capacity: Int) -> UnsafeMutablePointer<Ring> {
        // SAFETY: fresh allocations, every slot and the header initialised here; atomics need
        // fixed addresses; released in `deinit`.
        let slots = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: capacity)
        for i in 0..<capacity { unsafe (slots + i).initialize(to: Atomic(0)) }
        let r = UnsafeMutablePointer<Ring>.allocate(capacity: 1)
        unsafe r.initialize(to: Ring(slots: slots, mask: capacity - 1))
        return unsafe r
    }

    /// Owner only.
    func push(_ job: Element) {
        let b = bottom.load(ordering: .relaxed)  // owner's own variable
        // SAFETY: `ring` always points at a live ring (rings are freed only in deinit), and every
        // slot index is masked into it.
        var r = unsafe ring.load(ordering: .relaxed)  // owner is the only writer of `ring`
        if unsafe b - cachedTop > r.pointee.mask {
            cachedTop = top.load(ordering: .acquiring)  // pairs with thieves' CAS on `top`
            if unsafe b - cachedTop > r.pointee.mask {
                unsafe r = grow(r, top: cachedTop, bottom: b)
            }
        }
        unsafe r.pointee.slots[b & r.pointee.mask].store(job.word, ordering: .relaxed)  // published by the next line
        bottom.store(b + 1, ordering: .releasing)  // pairs with the acquiring load in `steal`
    }

    /// Owner only: the most recently pushed job, or nil.
    func pop() -> Element? {
        let b = bottom.load(ordering: .relaxed) - 1
        // SAFETY: as in `push`: a live ring, a masked index.
        let r = unsafe ring.load(ordering: .relaxed)
        bottom.store(b, ordering: .releasing)  // as below; ordered by the fence anyway
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `steal`
        let t = top.load(ordering: .relaxed)
        guard t <= b else {
            // Was empty: restore. Releasing (free on x86) so that every store a thief may read
            // continues the release sequence of the pushes.
            bottom.store(b + 1, ordering: .releasing)
            return nil
        }
        let bits = unsafe r.pointee.slots[b & r.pointee.mask].load(ordering: .relaxed)
        if t == b {
            // Last item: race the thieves for it with the same CAS they use.
            let won = top.compareExchange(
                expected: t, desired: t + 1,
                successOrdering: .sequentiallyConsistent,
                failureOrdering: .relaxed
            ).exchanged
            bottom.store(b + 1, ordering: .releasing)  // as above
            return won ? Element(word: bits) : nil
        }
        return Element(word: bits)
    }

    /// Any thread: the oldest job, or nil when empty or when another thread won the race.
    func steal() -> Element? {
        let t = top.load(ordering: .acquiring)  // pairs with other thieves' CAS
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `pop`
        let b = bottom.load(ordering: .acquiring)  // pairs with the releasing store in `push`
        guard t < b else { return nil }
        // SAFETY: as in `push`; a ring replaced meanwhile is still alive (kept until deinit).
        let r = unsafe ring.load(ordering: .acquiring)  // pairs with the releasing store in `grow`
        let bits = unsafe r.pointee.slots[t & r.pointee.mask].load(ordering: .relaxed)
        // Sequentially consistent success: totally ordered with `pop`'s CAS for the last item.
        guard
            top.compareExchange(
                expected: t, desired: t + 1,
                successOrdering: .sequentiallyConsistent,
                failureOrdering: .relaxed
            ).exchanged
        else { return nil }
        return Element(word: bits)
    }

    /// A racy emptiness check for idle scans; never used to decide correctness.
    var isProbablyEmpty: Bool {
        bottom.load(ordering: .relaxed) <= top.load(ordering: .relaxed)
    }

    /// A racy size for metrics.
    var approximateCount: Int {
        max(0, bottom.load(ordering: .relaxed) - top.load(ordering: .relaxed))
    }

    private func grow(_ old: UnsafeMutablePointer<Ring>, top t: Int, bottom b: Int) -> UnsafeMutablePointer<Ring> {
        // SAFETY: `old` is the live current ring, `new` a fresh one; indices are masked into each.
        let new = unsafe Self.makeRing(capacity: (old.pointee.mask + 1) * 2)
        for i in t..<b {
            let v = unsafe old.pointee.slots[i & old.pointee.mask].load(ordering: .relaxed)
            unsafe new.pointee.slots[i & new.pointee.mask].store(v, ordering: .relaxed)
        }
        unsafe rings.append(new)
        unsafe ring.store(new, ordering: .releasing)  // pairs with the acquiring load in `steal`
        return unsafe new
    }
}

/// A value a deque slot holds as one atomic machine word (a pointer with tag bits, say).
protocol WordRepresentable: BitwiseCopyable {
    init(word: UInt)
    var word: UInt { get }
}

extension UInt: WordRepresentable {
    init(word: UInt) { self = word }
    var word: UInt { self }
}

extension Int {
    fileprivate var nextPowerOfTwo: Int {
        var v = 1
        while v < self { v <<= 1 }
        return v
    }
}
