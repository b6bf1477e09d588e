import CSpindle
import Synchronization

/// The per-thread state of everyone who runs work of a pool: each worker, and each outside thread
/// while it is inside a `join`, `scope` or `install` of that pool.
///
/// Lives in its own 128-byte-aligned allocation (never in a class: the join fast path must reach
/// it without reference counting or exclusivity checks). The thread-local pointer
/// `spindle_tls_participant` points at the current thread's participant.
///
/// Field groups, each on its own cache lines:
/// 1. owner-only state read on every join (pending list, family, identity);
/// 2. the heartbeat flag, written by the heartbeat thread;
/// 3. shared machinery (deque, parker, counters) touched on slow paths.
@usableFromInline
struct Participant: ~Copyable {
    // MARK: 1. Owner-only, hot.

    /// Newest and oldest offered, not-yet-promoted join jobs (a doubly linked list through the
    /// jobs), and how many there are.
    @usableFromInline var newestPending: UnsafeMutablePointer<StackJob>?
    @usableFromInline var oldestPending: UnsafeMutablePointer<StackJob>?
    @usableFromInline var pendingCount: Int
    /// How many joins of this participant enclose the running code.
    @usableFromInline var joinDepth: Int
    /// A join at a depth above this limit runs inline without being offered. The offered joins
    /// are at most `offeredJoinLimit` and lie within `offeredJoinLimit` levels of the oldest
    /// offered one, so that offering (which allocates) stays rare: a few joins near the top of
    /// each stolen piece of work. With nothing offered, the next join is offered whatever its
    /// depth; when the oldest one is promoted, the window slides one level down.
    @usableFromInline var offerDepthLimit: Int
    /// The call the running code belongs to. A blocked participant only helps with jobs of its
    /// own family: work spawned, directly or not, by the same outside call or background job.
    @usableFromInline var family: Int
    /// Identity of the registry this participant belongs to (compared, never dereferenced here).
    @usableFromInline let registryID: UnsafeMutableRawPointer
    /// Position in the registry's participant table; workers are `0..<threadCount`.
    let index: Int
    let isWorker: Bool

    /// For an outside participant whose thread is a worker of another pool (directly or through
    /// further nesting): that worker's participant. While blocked here, the thread still serves
    /// its home worker's inbox, or a broadcast on the home pool could wait for it forever.
    var homeWorker: UnsafeMutablePointer<Participant>?

    /// The slab scope spawns of this participant are stored in, and how many of its slots are used.
    @usableFromInline var spawnSlab: UnsafeMutablePointer<SpawnSlab>?
    @usableFromInline var spawnSlabUsed: Int

    let padding0 = CacheLinePad()

    // MARK: 2. Written by the heartbeat thread.

    /// Set (relaxed) every heartbeat; the owner clears it at its next join and promotes. It
    /// publishes no data, so relaxed on both sides.
    @usableFromInline let heartbeat = Atomic<Bool>(false)

    let padding1 = CacheLinePad()

    // MARK: 3. Shared, slow paths.

    /// Promoted join jobs and scope spawns of this participant.
    let deque = WorkStealingDeque()
    /// Where this participant sleeps when blocked or idle.
    let parker = Parker()
    /// Set (releasing) by `resize` when this worker is to leave; read acquiring by the worker.
    let retiring = Atomic<Bool>(false)
    /// Whether a thread runs this worker slot: set before its thread starts, cleared (releasing)
    /// as the thread leaves, so that `resize` never starts a second thread on a slot.
    let threadRunning = Atomic<Bool>(false)
    /// Jobs that must run on this very worker (broadcast); empty for outside participants.
    let inbox = Injector()
    /// Background jobs that must run on this very worker (`spawnBroadcast` parts).
    let backgroundInbox = Injector()
    /// Unowned: the registry outlives all its participants.
    let registry: Unmanaged<Registry>
    /// Counters written only by the owner (load + store, no read-modify-write), summed on read
    /// by `ThreadPool.metrics` (relaxed: a snapshot orders nothing).
    /// This participant's trace buffer when the pool traces (`nil`: one branch, nothing else).
    let traceBuffer: TraceRecorder.Buffer?
    let promotions = Atomic<Int>(0)
    let steals = Atomic<Int>(0)
    let completedTasks = Atomic<Int>(0)
    let failedTasks = Atomic<Int>(0)
    let cancelledTasks = Atomic<Int>(0)
    let executorJobs = Atomic<Int>(0)
    /// Busy time of a worker: nanoseconds accumulated over finished busy stretches, and the
    /// start of the current one (0 while idle).
    let busyNanoseconds = Atomic<Int64>(0)
    let busySince = Atomic<Int64>(0)

    init(registry: Registry, index: Int, isWorker: Bool) {
        newestPending = nil
        oldestPending = nil
        pendingCount = 0
        joinDepth = 0
        offerDepthLimit = Int.max
        spawnSlab = nil
        spawnSlabUsed = 0
        homeWorker = nil
        family = 0
        registryID = Unmanaged.passUnretained(registry).toOpaque()
        self.index = index
        self.isWorker = isWorker
        self.registry = Unmanaged.passUnretained(registry)
        traceBuffer = registry.tracer?.buffer(for: index)
    }

    /// Allocates a participant on its own cache lines.
    static func allocate(registry: Registry, index: Int, isWorker: Bool) -> UnsafeMutablePointer<Participant> {
        // Unsafe allocation: raw, aligned memory so the fast path needs no ARC; freed by `deallocate`.
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<Participant>.stride, alignment: cacheLineAlignment)
        let p = raw.bindMemory(to: Participant.self, capacity: 1)
        p.initialize(to: Participant(registry: registry, index: index, isWorker: isWorker))
        return p
    }

    static func deallocate(_ p: UnsafeMutablePointer<Participant>) {
        p.pointee.parker.deallocate()
        p.deinitialize(count: 1)
        UnsafeMutableRawPointer(p).deallocate()
    }

    /// The current thread's participant if it belongs to the registry `registryID`.
    @inlinable
    @inline(__always)
    static func current(in registryID: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Participant>? {
        guard let raw = spindle_current_participant() else { return nil }
        let me = raw.assumingMemoryBound(to: Participant.self)
        return me.pointee.registryID == registryID ? me : nil
    }

    /// The current thread's participant in any pool.
    @inlinable
    @inline(__always)
    static var current: UnsafeMutablePointer<Participant>? {
        spindle_current_participant()?.assumingMemoryBound(to: Participant.self)
    }

    // MARK: Pending list (owner-only, plain memory).

    /// How many pending joins a participant offers at most (see `ThreadPool._join`).
    @usableFromInline
    static var offeredJoinLimit: Int { 4 }

    @inlinable
    @inline(__always)
    mutating func pushPending(_ job: UnsafeMutablePointer<StackJob>) {
        job.pointee.older = newestPending
        if let newest = newestPending {
            newest.pointee.newer = job
        } else {
            oldestPending = job
        }
        newestPending = job
        pendingCount &+= 1
        updateOfferDepthLimit()
    }

    /// Recomputes `offerDepthLimit` after the pending list changed (slow paths only).
    @inlinable
    mutating func updateOfferDepthLimit() {
        if let oldest = oldestPending {
            offerDepthLimit = pendingCount >= Self.offeredJoinLimit
                ? -1 : oldest.pointee.depth &+ Self.offeredJoinLimit &- 1
        } else {
            offerDepthLimit = Int.max
        }
    }

    /// Unlinks `job` (the newest pending job) if it was not promoted; says whether it was still
    /// pending, in which case the caller runs it inline.
    @inlinable
    @inline(__always)
    mutating func popPending(_ job: UnsafeMutablePointer<StackJob>) -> Bool {
        if job.pointee.isPromoted { return false }
        let older = job.pointee.older
        newestPending = older
        if let older {
            older.pointee.newer = nil
        } else {
            oldestPending = nil
        }
        pendingCount &-= 1
        updateOfferDepthLimit()
        return true
    }

    /// Unlinks and returns the oldest pending job.
    mutating func takeOldestPending() -> UnsafeMutablePointer<StackJob>? {
        guard let oldest = oldestPending else { return nil }
        let newer = oldest.pointee.newer
        oldestPending = newer
        if let newer {
            newer.pointee.older = nil
        } else {
            newestPending = nil
        }
        oldest.pointee.newer = nil
        oldest.pointee.isPromoted = true
        pendingCount -= 1
        updateOfferDepthLimit()
        return oldest
    }

    /// A free slot for a spawn record, with its slab (owner-only bump allocation).
    @inlinable
    mutating func nextSpawnSlot() -> (UnsafeMutableRawPointer, UnsafeMutablePointer<SpawnSlab>) {
        if _slowPath(spawnSlab == nil || spawnSlabUsed == SpawnSlab.capacity) {
            refillSpawnSlab()
        }
        let slab = spawnSlab.unsafelyUnwrapped
        let slot = SpawnSlab.slot(slab, spawnSlabUsed)
        spawnSlabUsed &+= 1
        return (slot, slab)
    }

    @usableFromInline
    mutating func refillSpawnSlab() {
        retireSpawnSlab()
        spawnSlab = SpawnSlab.allocate()
        spawnSlabUsed = 0
    }

    /// Gives up the current slab (it is freed once its records have run).
    mutating func retireSpawnSlab() {
        if let slab = spawnSlab {
            SpawnSlab.retire(slab, used: spawnSlabUsed)
            spawnSlab = nil
            spawnSlabUsed = 0
        }
    }

    /// Owner-only counter bump: a load and a store, no read-modify-write (one writer).
    func bump(_ counter: borrowing Atomic<Int>) {
        counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// A worker starts a busy stretch (owner only).
    func becameBusy(at now: Int64) {
        busySince.store(now, ordering: .relaxed)  // read relaxed by metrics snapshots
    }

    /// A worker ends its busy stretch (owner only).
    func becameIdle(at now: Int64) {
        let since = busySince.load(ordering: .relaxed)
        guard since != 0 else { return }
        busyNanoseconds.store(busyNanoseconds.load(ordering: .relaxed) &+ (now - since), ordering: .relaxed)
        busySince.store(0, ordering: .relaxed)
    }
}
