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
/// 1. owner-only state read on every join (offer window, family, identity);
/// 2. the heartbeat flag, written by the heartbeat thread;
/// 3. shared machinery (deque, parker, counters) touched on slow paths.
// @safe: the unowned registry outlives its participants (it frees them in its deinit).
@safe
@usableFromInline
struct Participant: ~Copyable {
    // MARK: 1. Owner-only, hot.

    /// The offer window: newest and oldest offered join jobs that no thief is known to have
    /// started (a doubly linked list through the jobs), and how many there are. Every listed job
    /// is also on this participant's deque, where thieves take it.
    @usableFromInline var newestPending: LivePointer<StackJob>?
    @usableFromInline var oldestPending: LivePointer<StackJob>?
    @usableFromInline var pendingCount: Int
    /// How many joins of this participant enclose the running code.
    @usableFromInline var joinDepth: Int
    /// A join at a depth above this limit runs inline without being offered. The listed joins
    /// are at most `offeredJoinLimit` and lie within `offeredJoinLimit` levels of the oldest
    /// listed one, so that offering (which allocates) stays rare: a few joins near the top of
    /// each stolen piece of work. With nothing listed, the next join is offered whatever its
    /// depth; when a heartbeat finds the oldest ones started by thieves, the window slides down.
    ///
    /// A beat also stores `Int.max` here (beside setting `heartbeat`), so that the fast path's one
    /// comparison sends the next join to the slow path, which answers the beat. Relaxed on both
    /// sides, plain loads and stores: the owner's recomputation may overwrite a beat's store that
    /// lands just before it; the beat is then answered at the owner's next slow path, or by the
    /// next beat (a beat carries no data, so a late one only delays a split).
    @usableFromInline let offerDepthLimit = Atomic<Int>(Int.max)
    /// The call the running code belongs to. A blocked participant only helps with jobs of its
    /// own family: work spawned, directly or not, by the same outside call or background job.
    @usableFromInline var family: Int
    /// Identity of the registry this participant belongs to (compared only).
    @usableFromInline let registryID: ObjectIdentifier
    /// Position in the registry's participant table; workers are `0..<threadCount`.
    let index: Int
    @usableFromInline let isWorker: Bool

    /// For an outside participant whose thread is a worker of another pool (directly or through
    /// further nesting): that worker's participant. While blocked here, the thread still serves
    /// its home worker's inbox, or a broadcast on the home pool could wait for it forever.
    var homeWorker: LivePointer<Participant>?

    /// The slab scope spawns of this participant are stored in, and how many of its slots are used.
    @usableFromInline var spawnSlab: LivePointer<SpawnSlab>?
    @usableFromInline var spawnSlabUsed: Int

    let padding0 = CacheLinePad()

    // MARK: 2. Written by the heartbeat thread.

    /// Set (relaxed) every heartbeat, together with `offerDepthLimit = Int.max`; the owner clears
    /// it at its next slow join and slides its offer window. It publishes no data, so relaxed on
    /// both sides.
    @usableFromInline let heartbeat = Atomic<Bool>(false)

    let padding1 = CacheLinePad()

    // MARK: 3. Shared, slow paths.

    /// Promoted join jobs and scope spawns of this participant.
    let deque = WorkStealingDeque<JobRef>()
    /// Where this participant sleeps when blocked or idle.
    @usableFromInline let parker = Parker()
    /// Set (releasing) by `resize` when this worker is to retire, cleared when a grow cancels
    /// the retirement; read acquiring by the worker, which then confirms under the lifecycle
    /// lock (`Registry.acknowledgeRetirement`): a hint, the slot's state is the truth.
    let retireRequested = Atomic<Bool>(false)
    /// Jobs that must run on this very worker (broadcast); empty for outside participants.
    let inbox = Injector<JobRef>()
    /// Background jobs that must run on this very worker (`spawnBroadcast` parts).
    let backgroundInbox = Injector<JobRef>()
    /// Unowned: the registry outlives all its participants.
    private let unownedRegistry: Unmanaged<Registry>
    /// The registry this participant belongs to.
    var registry: Registry {
        // SAFETY: a registry frees its participants in its deinit, so it is alive whenever one of
        // them is used.
        unsafe unownedRegistry.takeUnretainedValue()
    }
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

    /// Cancellation (Scheduler/CancellationFlow.swift), owner-only: the family this participant is
    /// the root of (0: none), the `run` call that root serves, the family whose source it has
    /// looked for and the one it listed in the registry, and the last source it looked up for a
    /// job of someone else's family.
    var familyRoot: Int = 0
    var rootCancellation: CancellationSource? = nil
    var checkedCancellationFamily: Int = 0
    var sharedCancellationFamily: Int = 0
    var cachedCancellationFamily: Int = 0
    var cachedCancellation: CancellationSource? = nil

    init(registry: Registry, index: Int, isWorker: Bool) {
        newestPending = nil
        oldestPending = nil
        pendingCount = 0
        joinDepth = 0
        spawnSlab = nil
        spawnSlabUsed = 0
        homeWorker = nil
        family = 0
        registryID = ObjectIdentifier(registry)
        self.index = index
        self.isWorker = isWorker
        // SAFETY: the registry frees its participants in its deinit, so it outlives this reference.
        unsafe unownedRegistry = Unmanaged.passUnretained(registry)
        traceBuffer = registry.tracer?.buffer(for: index)
    }

    /// Allocates a participant on its own cache lines.
    static func allocate(registry: Registry, index: Int, isWorker: Bool) -> LivePointer<Participant> {
        // SAFETY: fresh memory of the participant's size and alignment, bound and initialised
        // here; it stays in place until `deallocate`, which the registry calls only after the
        // participant's thread is gone (workers joined, outside slots at the registry's end).
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<Participant>.stride, alignment: cacheLineAlignment)
        let p = unsafe raw.bindMemory(to: Participant.self, capacity: 1)
        unsafe p.initialize(to: Participant(registry: registry, index: index, isWorker: isWorker))
        return unsafe LivePointer(unchecked: p)
    }

    /// # Safety
    /// No thread uses `p` (or any copy of it) afterwards.
    @unsafe
    static func deallocate(_ p: LivePointer<Participant>) {
        // SAFETY: the caller's obligation covers the parker: nobody parks or unparks it again.
        unsafe p.pointee.parker.deallocate()
        // SAFETY: `p` came from `allocate` (initialised, its own allocation); the caller
        // guarantees nobody uses it again.
        unsafe p.base.deinitialize(count: 1)
        unsafe UnsafeMutableRawPointer(p.base).deallocate()
    }

    /// The current thread's participant if it belongs to the registry `registryID`.
    @inlinable
    @inline(__always)
    static func current(in registryID: ObjectIdentifier) -> LivePointer<Participant>? {
        guard let me = current else { return nil }
        return me.pointee.registryID == registryID ? me : nil
    }

    /// The current thread's participant in any pool.
    @inlinable
    @inline(__always)
    static var current: LivePointer<Participant>? {
        // SAFETY: the thread-local slot holds a participant that is alive while its thread takes
        // part (set on entry, cleared or restored before the participant can be freed).
        guard let raw = unsafe spindle_current_participant() else { return nil }
        return unsafe LivePointer(unchecked: raw.assumingMemoryBound(to: Participant.self))
    }

    /// Makes `p` the current thread's participant (`nil`: none), for the thread-local slot that
    /// `current` reads.
    static func makeCurrent(_ p: LivePointer<Participant>?) {
        // SAFETY: stores the address only; `current` re-forms the pointer on this thread, while
        // the participant is alive (callers reset the slot before it can be freed).
        unsafe spindle_set_current_participant(p?.raw)
    }

    /// The join fast path's one check, shared by every `join`: the current thread's participant
    /// in pool `registryID` when a join may run inline there (below the offer window; a
    /// heartbeat closes the window by raising the limit), else nil (the caller takes its cold
    /// path: an outside caller, a heartbeat to answer, a join to offer).
    @inlinable
    @inline(__always)
    static func joiningInline(in registryID: ObjectIdentifier) -> LivePointer<Participant>? {
        if let me = current(in: registryID), _fastPath(me.pointee.mayJoinInline) { return me }
        return nil
    }

    /// The same check for `Spindle.join`, in whichever pool the thread takes part in.
    @inlinable
    @inline(__always)
    static var joiningInline: LivePointer<Participant>? {
        if let me = current, _fastPath(me.pointee.mayJoinInline) { return me }
        return nil
    }

    /// Debug builds: stops the program when `me` is not the current thread's participant. Owner-
    /// only state (the deque's bottom end, the offer window, the join depth, the spawn slab, the
    /// counters) may be touched only by the thread whose participant it is; every entry point that
    /// takes `me` for such state asserts it.
    @inlinable
    @inline(__always)
    static func assertOwned(_ me: LivePointer<Participant>, _ function: StaticString = #function) {
        assert(current == me, "\(function): owner-only participant state touched from another thread")
    }

    /// Whether a heartbeat (or a hungry thread) asked this participant to promote work since it
    /// last answered. Relaxed: the flag carries no data.
    @inlinable
    @inline(__always)
    var heartbeatIsDue: Bool { heartbeat.load(ordering: .relaxed) }

    // MARK: Offer window (owner-only, plain memory).

    /// How many offered joins a participant keeps in its window at most (see `ThreadPool._join`).
    @usableFromInline
    static var offeredJoinLimit: Int { 4 }

    /// Lists an offered job (already published on the deque, or about to be) in the window.
    @inlinable
    @inline(__always)
    mutating func enterOfferWindow(_ job: LivePointer<StackJob>) {
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

    /// Recomputes `offerDepthLimit` after the window changed (slow paths only).
    @inlinable
    mutating func updateOfferDepthLimit() {
        let limit: Int
        if let oldest = oldestPending {
            limit = pendingCount >= Self.offeredJoinLimit ? -1 : oldest.pointee.depth &+ Self.offeredJoinLimit &- 1
        } else {
            limit = Int.max
        }
        offerDepthLimit.store(limit, ordering: .relaxed)  // see the property: a beat may be overwritten
    }

    /// The join fast path's one check: deep enough below the offered joins to run inline, and no
    /// heartbeat to answer (a beat sets the limit to `Int.max`).
    @inlinable
    @inline(__always)
    var mayJoinInline: Bool {
        joinDepth > offerDepthLimit.load(ordering: .relaxed)
    }

    /// Unlinks `job` (the newest listed job) at the end of its join, unless a slide of the
    /// window already dropped it.
    @inlinable
    @inline(__always)
    mutating func leaveOfferWindow(_ job: LivePointer<StackJob>) {
        if job.pointee.leftWindow { return }
        let older = job.pointee.older
        newestPending = older
        if let older {
            older.pointee.newer = nil
        } else {
            oldestPending = nil
        }
        pendingCount &-= 1
        updateOfferDepthLimit()
    }

    /// Drops the oldest listed jobs that a thief has started, so that the window moves down to
    /// the joins this participant still runs itself and deeper joins can be offered (the
    /// heartbeat's work). Says whether the window moved.
    mutating func slideOfferWindow() -> Bool {
        var moved = false
        // Relaxed: `thief` is a hint; a job whose start is not seen yet stays listed a beat longer.
        while let oldest = oldestPending, oldest.pointee.thief.load(ordering: .relaxed) >= 0 {
            let newer = oldest.pointee.newer
            oldestPending = newer
            if let newer {
                newer.pointee.older = nil
            } else {
                newestPending = nil
            }
            oldest.pointee.newer = nil
            oldest.pointee.leftWindow = true
            pendingCount -= 1
            moved = true
        }
        if moved { updateOfferDepthLimit() }
        return moved
    }

    /// A free slot for a spawn record, with its slab (owner-only bump allocation).
    @inlinable
    mutating func nextSpawnSlot() -> (UnsafeMutableRawPointer, LivePointer<SpawnSlab>) {
        if _slowPath(spawnSlab == nil || spawnSlabUsed == SpawnSlab.capacity) {
            refillSpawnSlab()
        }
        // SAFETY: the refill above leaves a slab with a free slot.
        let slab = unsafe spawnSlab.unsafelyUnwrapped
        let slot = unsafe SpawnSlab.slot(slab, spawnSlabUsed)
        spawnSlabUsed &+= 1
        return unsafe (slot, slab)
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
