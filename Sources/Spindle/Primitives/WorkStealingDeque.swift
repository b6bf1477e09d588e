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
final class WorkStealingDeque<Element: WordRepresentable>: @unchecked Sendable {  // shared state is only touched through atomics
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
    private var rings: [UnsafeMutablePointer<Ring>] = []
    /// The owner's last look at `top` (owner-only). `top` only grows, so this is a lower bound:
    /// a push reloads it only when the ring looks full, and so does not pull the line thieves
    /// write on every steal into the owner's cache on every push.
    private var cachedTop = 0

    init(capacity: Int = 64) {
        let first = Self.makeRing(capacity: max(2, capacity.nextPowerOfTwo))
        ring = Atomic(first)
        rings.append(first)
    }

    deinit {
        for r in rings {
            r.pointee.slots.deinitialize(count: r.pointee.mask + 1)
            r.pointee.slots.deallocate()
            r.deinitialize(count: 1)
            r.deallocate()
        }
    }

    private static func makeRing(capacity: Int) -> UnsafeMutablePointer<Ring> {
        // Unsafe allocation: atomics need fixed addresses; released in `deinit`.
        let slots = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: Atomic(0)) }
        let r = UnsafeMutablePointer<Ring>.allocate(capacity: 1)
        r.initialize(to: Ring(slots: slots, mask: capacity - 1))
        return r
    }

    /// Owner only.
    func push(_ job: Element) {
        let b = bottom.load(ordering: .relaxed)  // owner's own variable
        var r = ring.load(ordering: .relaxed)  // owner is the only writer of `ring`
        if b - cachedTop > r.pointee.mask {
            cachedTop = top.load(ordering: .acquiring)  // pairs with thieves' CAS on `top`
            if b - cachedTop > r.pointee.mask {
                r = grow(r, top: cachedTop, bottom: b)
            }
        }
        r.pointee.slots[b & r.pointee.mask].store(job.word, ordering: .relaxed)  // published by the next line
        bottom.store(b + 1, ordering: .releasing)  // pairs with the acquiring load in `steal`
    }

    /// Owner only: the most recently pushed job, or nil.
    func pop() -> Element? {
        let b = bottom.load(ordering: .relaxed) - 1
        let r = ring.load(ordering: .relaxed)
        bottom.store(b, ordering: .releasing)  // as below; ordered by the fence anyway
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // pairs with the fence in `steal`
        let t = top.load(ordering: .relaxed)
        guard t <= b else {
            // Was empty: restore. Releasing (free on x86) so that every store a thief may read
            // continues the release sequence of the pushes.
            bottom.store(b + 1, ordering: .releasing)
            return nil
        }
        let bits = r.pointee.slots[b & r.pointee.mask].load(ordering: .relaxed)
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
        let r = ring.load(ordering: .acquiring)  // pairs with the releasing store in `grow`
        let bits = r.pointee.slots[t & r.pointee.mask].load(ordering: .relaxed)
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
        let new = Self.makeRing(capacity: (old.pointee.mask + 1) * 2)
        for i in t..<b {
            let v = old.pointee.slots[i & old.pointee.mask].load(ordering: .relaxed)
            new.pointee.slots[i & new.pointee.mask].store(v, ordering: .relaxed)
        }
        rings.append(new)
        ring.store(new, ordering: .releasing)  // pairs with the acquiring load in `steal`
        return new
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
