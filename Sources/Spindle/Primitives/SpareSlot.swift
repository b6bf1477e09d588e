import Synchronization

/// One spare object pointer, handed between threads without a lock: the common case of a
/// free list that holds at most one entry at a time (one outside thread calling a pool again
/// and again). Callers fall back to their locked list when the spare is taken or occupied.
///
/// Memory ordering: `put`'s releasing compare-exchange pairs with `take`'s acquiring exchange,
/// so whatever the putting thread wrote to the object before `put` is visible to the taker.
struct SpareSlot<Pointee: ~Copyable>: ~Copyable {
    /// The spare's address, or 0 when there is none.
    private let address = Atomic<UInt>(0)

    init() {}

    /// Takes the spare, if there is one.
    func take() -> LivePointer<Pointee>? {
        let taken = address.exchange(0, ordering: .acquiring)  // pairs with `put`'s release
        guard taken != 0 else { return nil }
        // SAFETY: a non-zero value is an address `put` stored from a live pointer, whose owner keeps the object alive while it can be a spare (SpareSlot's contract).
        let base = unsafe UnsafeMutablePointer<Pointee>(bitPattern: taken).unsafelyUnwrapped
        // SAFETY: as above: the object is alive and initialised.
        return unsafe LivePointer(unchecked: base)
    }

    /// Offers `object` as the spare; false when there already is one (keep it elsewhere).
    func put(_ object: LivePointer<Pointee>) -> Bool {
        // SAFETY: only the address is taken; `take` turns it back into a pointer while the object lives.
        let bits = UInt(bitPattern: unsafe object.raw)
        return address.compareExchange(
            expected: 0, desired: bits,
            successOrdering: .releasing, failureOrdering: .relaxed  // pairs with `take`'s acquire
        ).exchanged
    }
}
