import CSpindle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything a pool is made of: its participants (workers first, then outside callers), the
/// queues without an owner, the sleep and heartbeat state, and the worker threads' lifecycle
/// (`PoolLifecycle`, whose transitions live in `Lifecycle.swift`).
///
/// `ThreadPool` is the public face; workers keep the registry alive (not the pool), so dropping
/// the last `ThreadPool` reference can shut the pool down.
// @safe: the participant table is only read through `participant(at:)` and written under
// `externalLock` or before the workers start; it is freed in deinit.
@safe
final class Registry: @unchecked Sendable {  // mutable state is atomic or guarded by `lifecycleLock` / `externalLock`
    let configuration: ThreadPool.Configuration
    /// Worker slots reserved at creation (`resize` may grow the pool up to this many workers).
    let maxWorkers: Int
    /// Workers currently in service: participants `0..<activeWorkers`. Changed under
    /// `lifecycleLock` (by `resize`); read relaxed elsewhere, as a count.
    let activeWorkers = Atomic<Int>(0)
    var workerCount: Int { activeWorkers.load(ordering: .relaxed) }
    /// The public pool (weak: the pool owns the registry). Set once before the workers start.
    weak var pool: ThreadPool?
    /// The pool as a task executor, for running Swift jobs on it (unowned: no reference counting
    /// per job; the pool must outlive the tasks that prefer it, as every executor must). Set once
    /// before the workers start.
    var taskExecutor: UnownedTaskExecutor?
    /// The trace recorder, when `configuration.tracing` is on.
    let tracer: TraceRecorder?
    /// When the pool started (monotonic nanoseconds), for utilisation.
    let startedAt = monotonicNanoseconds()
    /// Task outcomes recorded by threads that are not participants of this pool (a task run
    /// inline by `wait()` from any thread, a cancellation): rare, so shared counters.
    let outsideCompleted = Atomic<Int>(0)
    let outsideFailed = Atomic<Int>(0)
    let outsideCancelled = Atomic<Int>(0)
    /// Tasks that ran past their timeout (rare: one shared counter; relaxed, a count).
    let timedOutTasks = Atomic<Int>(0)

    /// Participant table: `slots[0..<slotCount]` are valid forever once published.
    /// Worker slots are `0..<maxWorkers` (the first `activeWorkers` in service); outside callers
    /// get the rest on demand.
    let slots: UnsafeMutablePointer<LivePointer<Participant>?>
    static let slotCapacity = 4_096
    /// Published with a releasing store after a slot pointer is written; read acquiring.
    let slotCount = Atomic<Int>(0)

    /// Outside participants not in use, guarded by `externalLock` (both used by
    /// OutsideParticipants.swift only).
    let externalLock = FutexLock()
    var freeExternal: [LivePointer<Participant>] = []
    /// One more free outside participant, taken and given back without the lock: the slot of
    /// the one outside thread that calls the pool again and again, the usual case.
    let spareExternal = SpareSlot<Participant>()

    /// Foreground jobs without an owning deque (handed in from non-participants, or given back).
    let foreground = Injector<JobRef>()
    /// Background jobs: spawn, submit, run, Swift jobs. Sharded by submitting thread, so that
    /// submitters on different threads take different locks.
    let background = ShardedInjector<JobRef>(shardCount: 8)
    /// Open until shutdown; background admission passes it without a lock (AdmissionGate).
    let admissionGate = AdmissionGate()

    let sleep = WorkerSleepState()
    let heartbeat: Heartbeat
    /// The thread of `Configuration.followCPULimit`, if it is on.
    let cpuLimitWatcher: CPULimitWatcher?

    /// Source of call identities (`Participant.family`). 0 is never handed out.
    private let nextFamily = Atomic<Int>(1)
    /// Cancellation sources that family roots shared with thieves, by family
    /// (Scheduler/CancellationFlow.swift).
    let sharedCancellation = FutexLocked<[Int: CancellationSource]>([:])

    // MARK: Lifecycle

    /// Guards `lifecycle` (see `PoolLifecycle`) and broadcasts. Background admission does not
    /// take it: `admissionGate`, closed by `close` under this lock, keeps jobs from slipping in
    /// after workers decide to exit.
    let lifecycleLock = FutexLock()
    /// Under `lifecycleLock`.
    var lifecycle: PoolLifecycle
    /// Workers in blocking sections and the spares started for them, under `lifecycleLock`.
    var blockingSections = BlockingSections()
    /// Spares beyond the workers still blocked (`BlockingSections.surplus`), mirrored for the
    /// worker loop's lock-free look before it parks. Relaxed: a hint; the retirement itself is
    /// decided under `lifecycleLock`.
    let spareSurplus = Atomic<Int>(0)
    /// Whether admission is closed, under `lifecycleLock`.
    var isClosed: Bool { lifecycle.phase != .running }
    /// Mirror of `isClosed` for lock-free reads (`isShutDown`), set under the lock before the
    /// admission gate closes: a caller the gate refuses already reads the pool shut down.
    let closedFlag = Atomic<Bool>(false)
    /// Set under the lock once the gate has closed and drained: every admitted job is queued, so
    /// a worker that reads it and then finds nothing can exit (`isDrained`).
    let drainedFlag = Atomic<Bool>(false)
    /// Set when the last worker has left a closed pool.
    let workersGone = OneShotEvent()
    /// Set once a shutdown has finished: threads joined or detached, heartbeat stopped.
    let shutdownFinished = OneShotEvent()
    /// Bumped (releasing) and woken whenever a worker slot becomes vacant.
    let slotsChanged = FutexWord(0)
    /// Places for background jobs accepted but not started (`maxPending`), and the async
    /// submitters waiting for one (Tasks/Admission.swift).
    let pendingPlaces: PendingPlaces

    init(configuration: ThreadPool.Configuration) {
        self.configuration = configuration
        maxWorkers = Swift.min(
            Self.slotCapacity / 2,
            Swift.max(4 * configuration.threads, 4 * ThreadPool.usableCoreCount))
        // Unsafe allocation: a fixed table of participant pointers read by thieves; freed in deinit.
        // SAFETY: a fixed table, initialised to nil here, read through `participant(at:)` and freed in deinit.
        unsafe slots = .allocate(capacity: Self.slotCapacity)
        unsafe slots.initialize(repeating: nil, count: Self.slotCapacity)
        lifecycle = PoolLifecycle(slotCount: maxWorkers)
        pendingPlaces = PendingPlaces(bound: configuration.maxPending)
        heartbeat = Heartbeat(intervalNanoseconds: configuration.heartbeatNanoseconds)
        cpuLimitWatcher =
            configuration.followCPULimit
            ? CPULimitWatcher(source: configuration.cpuLimit, intervalNanoseconds: configuration.cpuLimitCheckNanoseconds) : nil
        tracer = configuration.tracing ? TraceRecorder(eventsPerParticipant: 1 << 20) : nil
        LiveObjects.created(.registry)
    }

    deinit {
        for i in 0..<slotCount.load(ordering: .acquiring) {
            // SAFETY: deinit: every worker thread was joined and every outside call has returned, so no participant is in use.
            if let p = unsafe slots[i] { unsafe Participant.deallocate(p) }
        }
        unsafe slots.deallocate()
        // SAFETY: the registry is going away: every thread that waited on the word has left.
        unsafe slotsChanged.deallocate()
        LiveObjects.destroyed(.registry)
    }

    var identity: ObjectIdentifier { ObjectIdentifier(self) }

    func makeFamily() -> Int {
        nextFamily.wrappingAdd(1, ordering: .relaxed).newValue  // a unique number; orders nothing
    }

    /// Participant `index`: a worker slot, or any slot below a `slotCount` loaded acquiring.
    func participant(at index: Int) -> LivePointer<Participant> {
        // SAFETY: `index` is below the table's capacity and its slot was published (worker slots
        // are filled before any thread starts; others before `slotCount`'s releasing store).
        unsafe slots[index].unsafelyUnwrapped
    }

    /// When promotions were last requested (monotonic nanoseconds); a hint shared by all
    /// (`requestPromotionsFromSpinner`).
    let lastPromotionRequest = Atomic<Int64>(0)
}
