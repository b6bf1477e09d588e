/// A reference to a unit of work: one machine word, so a deque slot is a single atomic.
///
/// The two low bits tell the kinds apart (all pointers are at least 8-byte aligned):
/// - `0`: a `StackJob` on the stack of a thread blocked in `join` (valid until that join returns,
///   which cannot happen before the job completed);
/// - `1`: a retained `HeapJob` object; whoever takes the reference out of its queue owns it;
/// - `2`: a scope spawn record in a `SpawnSlab` (valid until it has run);
/// - `3`: a Swift concurrency job (`UnownedJob`) enqueued on the pool as a `TaskExecutor` (owned
///   by the runtime; running it consumes it). Its family is 0: no blocked participant waits on it.
///
/// No existential and no reference counting is involved in moving a `JobRef` around.
@usableFromInline
struct JobRef: Equatable, Sendable, WordRepresentable {
    @usableFromInline
    let bits: UInt

    @inlinable
    init(bits: UInt) { self.bits = bits }

    /// A deque slot's word (`WordRepresentable`).
    init(word: UInt) { bits = word }
    var word: UInt { bits }

    @usableFromInline
    init(stack job: LivePointer<StackJob>) {
        // SAFETY: only the address is kept; `stackJob` re-forms the pointer while the job is alive.
        bits = unsafe UInt(bitPattern: job.raw)
    }

    /// Takes a +1 reference to `job`, handed to whoever executes the `JobRef`.
    init(heap job: HeapJob) {
        // SAFETY: the retain is balanced by `takeHeapJob`, called once by whoever runs or
        // cancels the job (a `JobRef` taken out of a queue is owned).
        bits = unsafe UInt(bitPattern: Unmanaged.passRetained(job).toOpaque()) | 1
    }

    var isStackJob: Bool { bits & 3 == 0 }
    var isHeap: Bool { bits & 3 == 1 }
    var isSpawnRecord: Bool { bits & 3 == 2 }
    var isExecutorJob: Bool { bits & 3 == 3 }

    init(executorJob job: UnownedJob) {
        // UnownedJob is one pointer to a runtime job object (16-byte aligned): its low bits are free.
        // SAFETY: `UnownedJob` is a single pointer-sized reference, bit-cast to its address.
        let raw = unsafe unsafeBitCast(job, to: UInt.self)
        assert(raw & 3 == 0, "a Swift job pointer with its low bits set")
        bits = raw | 3
    }

    var executorJob: UnownedJob {
        // SAFETY: the bits were made from an `UnownedJob` (tag 3), which the runtime keeps alive
        // until it is run.
        unsafe unsafeBitCast(bits & ~3, to: UnownedJob.self)
    }

    @inlinable
    init(spawnRecord: UnsafeMutableRawPointer) {
        bits = UInt(bitPattern: spawnRecord) | 2
    }

    /// The spawn record (tag 2), valid until it has run.
    var spawnRecordPointer: LivePointer<SpawnRecord> {
        // SAFETY: tag 2 is only made from a slab slot holding an initialised record
        // (`Scope._pushRecord`), which stays until `SpawnRecord.run` consumed it.
        unsafe LivePointer(unchecked: UnsafeMutablePointer(bitPattern: bits & ~3).unsafelyUnwrapped)
    }

    /// The stack job (tag 0), valid until its owner saw it done.
    var stackJob: LivePointer<StackJob> {
        // SAFETY: tag 0 is only made from a live stack job (`init(stack:)`), whose joining
        // frame does not return before the job is done.
        unsafe LivePointer(unchecked: UnsafeMutablePointer(bitPattern: bits).unsafelyUnwrapped)
    }

    /// Borrows the heap job without consuming the queue's reference.
    var heapJobUnretained: HeapJob {
        // SAFETY: tag 1 holds the +1 reference taken in `init(heap:)`, not consumed while the
        // caller owns (or, under an injector's lock, holds) this `JobRef`.
        unsafe Unmanaged<HeapJob>.fromOpaque(UnsafeRawPointer(bitPattern: bits & ~1).unsafelyUnwrapped)
            .takeUnretainedValue()
    }

    /// Consumes the reference this `JobRef` holds.
    func takeHeapJob() -> HeapJob {
        // SAFETY: balances `init(heap:)`'s retain; the owner of a dequeued `JobRef` calls this
        // once (running or cancelling the job) and drops the `JobRef`.
        unsafe Unmanaged<HeapJob>.fromOpaque(UnsafeRawPointer(bitPattern: bits & ~1).unsafelyUnwrapped)
            .takeRetainedValue()
    }

    /// The call a job belongs to (see `Participant.family`). Read by the thread that owns the
    /// reference (it took it from a queue), or under the lock of the injector that holds it
    /// (`Injector.pop(where:)`): either way the job cannot run, and so cannot vanish, meanwhile.
    var family: Int {
        switch bits & 3 {
        case 1: return heapJobUnretained.family
        case 2: return spawnRecordPointer.pointee.family
        case 3: return 0
        default: return stackJob.pointee.family
        }
    }
}
