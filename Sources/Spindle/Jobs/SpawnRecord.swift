import Synchronization

// Scope spawns without an allocation each: a spawned closure is stored in a fixed-size record
// of a slab owned by the spawning participant (a bump allocation, owner-only), and the slab is
// freed when its last record has run.
//
// Slab states: `live` counts the records handed out but not yet run, plus one for the owner
// while the slab is its current one. A new slab starts at `capacity + 1` (every slot counted in
// advance, so that spawning needs no atomic operation); retiring it subtracts the slots never
// used and the owner's one. Each record that ran subtracts one. Whoever brings `live` to zero
// frees the slab; the acquiring-and-releasing subtraction orders every record's last access
// before the free.

/// One spawned closure of a scope, in a slab slot. Not generic: a scope whose closures cannot
/// throw stores them as they are; one whose closures throw stores a wrapper that records the
/// error (see `Scope.spawn`).
// @safe: `latch` is the scope's, and a scope outlives its spawns (it waits for them).
@safe
@usableFromInline
struct SpawnRecord {
    @usableFromInline var work: @Sendable () -> Void
    /// The scope's latch (unretained: a scope outlives all its spawns, since it waits for them).
    @usableFromInline var latch: Unmanaged<CountLatch>
    @usableFromInline var family: Int
    @usableFromInline var slab: LivePointer<SpawnSlab>

    @inlinable
    init(
        work: @escaping @Sendable () -> Void, latch: Unmanaged<CountLatch>, family: Int,
        slab: LivePointer<SpawnSlab>
    ) {
        self.work = work
        // SAFETY: `latch` belongs to the scope, which outlives every record it spawned.
        unsafe self.latch = latch
        self.family = family
        self.slab = slab
    }

    /// Runs the record's closure, reports to its scope, and frees the slot.
    static func run(_ record: LivePointer<SpawnRecord>) {
        // SAFETY: the scope waits on its latch for this record, so the latch is alive until the decrement below.
        let latch = unsafe record.pointee.latch
        let slab = record.pointee.slab
        do {
            // The closure (and so everything it captured) is released at the end of this block,
            // before the decrement: once `scope` returns, nothing of its spawns is alive.
            // SAFETY: the record is initialised (pushed by `Scope._pushRecord`) and run once, by
            // whoever took its `JobRef`; moving it out leaves the slot uninitialised, as the slab
            // expects of a record that ran.
            let work = unsafe record.base.move().work
            work()
        }
        // After the decrement the scope may end: `decrement` touches nothing of the latch after its
        // read-modify-write, and nothing of the scope is touched below.
        unsafe latch.takeUnretainedValue().decrement()
        SpawnSlab.releaseRecord(slab)
    }
}

/// A slab of spawn records (raw memory: header, then `capacity` slots).
@usableFromInline
struct SpawnSlab: ~Copyable {
    @usableFromInline let live: Atomic<Int>

    @usableFromInline static var capacity: Int { 1_024 }
    @usableFromInline static var slotSize: Int { 64 }
    @usableFromInline static var headerSize: Int { 128 }

    /// A new slab with every slot counted as live, plus the owner's token.
    @usableFromInline
    static func allocate() -> LivePointer<SpawnSlab> {
        // Unsafe allocation: a raw slab of records; freed by whoever releases its last record.
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: headerSize + capacity * slotSize,
            alignment: cacheLineAlignment)
        // SAFETY: fresh memory sized for the header and every slot; the header is bound and initialised here.
        let slab = unsafe raw.bindMemory(to: SpawnSlab.self, capacity: 1)
        unsafe slab.initialize(to: SpawnSlab(live: Atomic(capacity + 1)))
        LiveObjects.created(.spawnSlab)
        // SAFETY: initialised just above; freed only when `live` reaches zero, that is after the
        // owner retired it and every record handed out has run (see the slab states above).
        return unsafe LivePointer(unchecked: slab)
    }

    @inlinable
    static func slot(_ slab: LivePointer<SpawnSlab>, _ index: Int) -> UnsafeMutableRawPointer {
        // SAFETY: `index < capacity` (the owner's bump allocation checks it), so the slot lies
        // inside the slab's allocation.
        unsafe slab.raw + headerSize + index * slotSize
    }

    /// The owner stops using the slab after `used` records.
    @usableFromInline
    static func retire(_ slab: LivePointer<SpawnSlab>, used: Int) {
        release(slab, count: capacity - used + 1)
    }

    @usableFromInline
    static func releaseRecord(_ slab: LivePointer<SpawnSlab>) {
        release(slab, count: 1)
    }

    private static func release(_ slab: LivePointer<SpawnSlab>, count: Int) {
        // Acquiring and releasing: every earlier release happens before the free below.
        if slab.pointee.live.subtract(count, ordering: .acquiringAndReleasing).newValue == 0 {
            // SAFETY: `live` reached zero: the owner retired the slab and every record ran, so
            // nobody holds a pointer into it any more.
            unsafe slab.base.deinitialize(count: 1)
            unsafe slab.raw.deallocate()
            LiveObjects.destroyed(.spawnSlab)
        }
    }
}
