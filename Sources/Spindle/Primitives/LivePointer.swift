/// A pointer that is promised to point at a live, initialised `Pointee` for as long as any copy
/// of it is used: the scheduler's handle on memory it manages by hand (participants, stack jobs,
/// spawn slabs and records), so that the code using that memory is checked as safe and the
/// unsafe part is the one place that forms the promise.
///
/// `@safe` because every way to get one is `init(unchecked:)`, which is `@unsafe`: each caller
/// writes `unsafe` and a `// SAFETY:` line saying why the memory outlives every use of the
/// pointer (a participant lives as long as its registry's slot; a stack job until its join has
/// seen it done; a spawn slab until its last record ran). Reading and writing through `pointee`
/// is then memory-safe; *who* may write which field is the owner-only rule, checked by
/// `Participant.assertOwned` in debug builds and by atomics elsewhere.
///
/// Not `Sendable`: it crosses threads only inside the scheduler's own protocols (deques, the
/// thread-local participant, the registry's table), each of which orders the hand-over.
@safe
@usableFromInline
struct LivePointer<Pointee: ~Copyable>: Equatable {
    @usableFromInline let base: UnsafeMutablePointer<Pointee>

    /// # Safety
    /// `base` points at an initialised `Pointee` that stays alive and in place for as long as
    /// this value or any copy of it is used.
    @unsafe
    @inlinable
    @inline(__always)
    init(unchecked base: UnsafeMutablePointer<Pointee>) { unsafe self.base = base }

    /// The pointee, in place (addressors: no copy, no coroutine).
    @inlinable
    var pointee: Pointee {
        // SAFETY: the type's invariant (the pointee is alive while this pointer is used).
        @inline(__always) unsafeAddress { unsafe UnsafePointer(base) }
        // SAFETY: as above; writes to shared fields go through atomics, owner-only ones are
        // made by the owner (Participant.assertOwned).
        @inline(__always) nonmutating unsafeMutableAddress { unsafe base }
    }

    /// The address, for the thread-local participant slot and for tagging a `JobRef`.
    @inlinable
    var raw: UnsafeMutableRawPointer { unsafe UnsafeMutableRawPointer(base) }

    /// The `k`-th element after this one.
    ///
    /// # Safety
    /// That element is initialised and stays alive and in place while the result is used.
    @unsafe
    @inlinable
    func advanced(by k: Int) -> LivePointer { unsafe LivePointer(unchecked: base + k) }

    @inlinable
    static func == (a: Self, b: Self) -> Bool { unsafe a.base == b.base }
}
