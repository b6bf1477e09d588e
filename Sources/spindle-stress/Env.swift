import Spindle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One pool of the run, with what the accounting needs to know about how it ended.
final class PoolRecord: Sendable {
    let serial: Int
    let pool: ThreadPool
    let maxPending: Int?
    /// Set before `shutdown(gracePeriod:)` starts: from then on, background work that has not
    /// started may be cancelled at the deadline, and a dropped `spawn` counts as cancelled.
    let graceStarted = Atomic<Bool>(false)
    /// Spawned closures released without running, seen by their tokens.
    let drops = Atomic<Int>(0)
    let retiredHow = Mutex<String>("")

    init(serial: Int, pool: ThreadPool) {
        self.serial = serial
        self.pool = pool
        maxPending = pool.configuration.maxPending
    }

    /// Broadcasts in flight, and whether the pool is being retired. `broadcast` on a shut-down
    /// pool is a precondition failure (a program must not broadcast on a pool it is shutting
    /// down), so the replacer closes this gate and waits for the broadcasts in flight first.
    private let broadcastGate = Mutex<(active: Int, closed: Bool)>((0, false))

    /// Whether a broadcast may start (then `leaveBroadcast()` after it).
    func enterBroadcast() -> Bool {
        broadcastGate.withLock { gate in
            if gate.closed { return false }
            gate.active += 1
            return true
        }
    }

    func leaveBroadcast() { broadcastGate.withLock { $0.active -= 1 } }

    /// Refuses new broadcasts and waits for those in flight (before a shutdown).
    func closeBroadcasts() {
        broadcastGate.withLock { $0.closed = true }
        while broadcastGate.withLock({ $0.active }) > 0 { sleepMicroseconds(100) }
    }

    var label: String { "pool#\(serial)(\(pool.threadCount) threads\(maxPending.map { ", maxPending \($0)" } ?? ""))" }

    var graceMayCancel: Bool { graceStarted.load(ordering: .acquiring) }  // pairs with the store before the shutdown
}

/// A pool record that does not keep its pool alive: the watchdog's view of retired pools that
/// operations still use.
final class WeakRecord: @unchecked Sendable {  // `record` is set once in init; weak loads are thread-safe in the runtime
    weak var record: PoolRecord?
    init(_ record: PoolRecord) { self.record = record }
}

/// The live pools (one per slot), and the replaced ones still alive.
final class PoolSet: Sendable {
    private let slots: Mutex<[PoolRecord]>
    /// Replaced pools that may still be alive (pruned as they go).
    private let replaced = Mutex<[WeakRecord]>([])
    private let nextSerial = Atomic<Int>(0)
    let maxThreads: Int

    init(count: Int, maxThreads: Int, rng: inout SplitMix64) {
        self.maxThreads = maxThreads
        var made: [PoolRecord] = []
        for serial in 0..<count { made.append(Self.makePool(serial: serial, maxThreads: maxThreads, rng: &rng)) }
        nextSerial.store(count, ordering: .relaxed)  // a counter; orders nothing
        slots = Mutex(made)
    }

    /// A pool of random size, sometimes with a small `maxPending` (to reach saturation and the
    /// capacity waits) and sometimes without spinning (to exercise parking and wake-ups).
    static func makePool(serial: Int, maxThreads: Int, rng: inout SplitMix64) -> PoolRecord {
        var configuration = ThreadPool.Configuration(threads: rng.int(1...maxThreads), threadNamePrefix: "stress\(serial)-")
        if rng.chance(0.5) { configuration.maxPending = rng.pick([1, 2, 4, 16, 64]) }
        if rng.chance(0.3) { configuration.spinBeforeSleep = rng.pick([0, 10]) }
        do {
            return PoolRecord(serial: serial, pool: try ThreadPool(configuration: configuration))
        } catch {
            fatalError("spindle-stress: could not create a pool: \(error)")
        }
    }

    /// The current pools (each kept alive by the caller's copy of the array).
    func snapshot() -> [PoolRecord] { slots.withLock { $0 } }

    func random(_ rng: inout SplitMix64) -> PoolRecord {
        let all = snapshot()
        return all[rng.int(0...all.count - 1)]
    }

    /// Puts a new pool in a random slot; returns the one it replaced.
    func replaceRandom(_ rng: inout SplitMix64) -> PoolRecord {
        let fresh = Self.makePool(serial: nextSerial.wrappingAdd(1, ordering: .relaxed).oldValue, maxThreads: maxThreads, rng: &rng)
        let index = rng.next()
        let old = slots.withLock { slots -> PoolRecord in
            let i = Int(index % UInt64(slots.count))
            let old = slots[i]
            slots[i] = fresh
            return old
        }
        replaced.withLock { list in
            list.removeAll { $0.record == nil }
            list.append(WeakRecord(old))
        }
        return old
    }

    /// Every pool the watchdog should describe: in use, and replaced but still alive.
    func all() -> (current: [PoolRecord], retired: [PoolRecord]) {
        (snapshot(), replaced.withLock { $0.compactMap(\.record) })
    }
}

/// What each outside issuing thread is doing, for the watchdog.
final class IssuerBoard: Sendable {
    private let entries: Mutex<[(what: String, since: Double)]>

    init(count: Int) { entries = Mutex(Array(repeating: ("starting", monotonicSeconds()), count: count)) }

    func set(_ issuer: Int, _ what: String) {
        guard issuer >= 0 else { return }
        let now = monotonicSeconds()
        entries.withLock { $0[issuer] = (what, now) }
    }

    func describe() -> [String] {
        let now = monotonicSeconds()
        return entries.withLock { list in
            list.enumerated().map { i, e in
                "issuer \(i): \(e.what) (for \(format(now - e.since)) s)"
            }
        }
    }
}

/// Everything the operations share.
final class Env: Sendable {
    let options: Options
    let seed: UInt64
    let ledger: Ledger
    let pools: PoolSet
    let board: IssuerBoard
    /// The round in progress (1, 2, …); its storage in `ledger` is valid while it runs.
    let round = Atomic<Int>(0)
    /// Whether issuers may start new top-level operations in this round.
    let roundOpen = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    /// Issuers that have finished their part of a round (cumulative over rounds).
    let arrived = Atomic<Int>(0)
    /// Operations in flight (any depth), and fire-and-forget units not yet resolved.
    let activeOps = Atomic<Int>(0)
    let unresolved = Atomic<Int>(0)
    /// Operation completions: progress for the watchdog besides the ledger's marks.
    let completions = Atomic<Int>(0)
    /// Wrong results and other contract violations found by operations (this round).
    let wrong = Atomic<Int>(0)
    private let printed = Atomic<Int>(0)
    /// Operations issued, and in flight, per kind.
    let issued = Counters(count: 256)
    let inFlight = Counters(count: 256)
    /// Nested operations in flight, with where they run: op number → description.
    let liveOps = Mutex<[Int: String]>([:])
    let nextOp = Atomic<Int>(0)
    /// The checked rounds so far.
    let totals = Mutex<Tally>(Tally())
    /// Fire-and-forget units not yet resolved: id → where they stand (for the watchdog).
    let spawnStates = Mutex<[Int: String]>([:])
    /// `run` calls that have not returned: id → token.
    let pendingRuns = Mutex<[Int: RunToken]>([:])

    init(options: Options, pools: PoolSet) {
        self.options = options
        seed = options.seed
        ledger = Ledger(capacity: max(1 << 16, options.roundUnits * 4))
        self.pools = pools
        board = IssuerBoard(count: options.issuers)
    }

    var currentRound: Int { round.load(ordering: .acquiring) }

    /// The calling thread, as far as the pools can tell (a worker acting as the outside caller of
    /// another pool's join shows up as outside).
    func whereAmI() -> String {
        let (current, retired) = pools.all()
        for record in current + retired {
            if let index = record.pool.currentThreadIndex { return "worker \(index) of \(record.label)" }
        }
        if let index = ThreadPool.currentThreadIndex { return "worker \(index) of a retired pool" }
        return "a thread outside the pools"
    }

    /// A contract violation or wrong result: counted, and printed (the first few hundred).
    func fail(_ message: String) {
        wrong.wrappingAdd(1, ordering: .sequentiallyConsistent)
        note("WRONG (round \(currentRound)): \(message)")
    }

    /// A diagnostic line on stderr (the first few hundred).
    func note(_ message: String) {
        guard printed.wrappingAdd(1, ordering: .relaxed).oldValue < 300 else { return }  // a cap; orders nothing
        writeLine("spindle-stress: \(message)", to: 2)
    }

    func mark(_ id: Int, _ mark: Mark) { ledger.mark(id, mark) }

    /// Marks unit `id` as legitimately skipped (a not-run mark, counted as skipped too).
    func markSkipped(_ id: Int) {
        ledger.mark(id, .skipped)
        ledger.mark(id, .notRun)
    }

    /// The unit's value: what its work returns, known to the caller without running it.
    func value(_ id: Int) -> UInt64 { mix64(seed ^ (UInt64(truncatingIfNeeded: id) &* 0x9E37_79B9_7F4A_7C15)) & 0xFFFF }

    /// A unit's work: a little spinning (now and then a lot, so that work is uneven), then its value.
    func work(_ id: Int) -> UInt64 {
        var x = UInt64(truncatingIfNeeded: id) ^ seed
        let r = mix64(x)
        let spins = r & 31 == 0 ? 4_000 : Int(r & 255)
        for _ in 0..<spins { x = mix64(x) }
        if x == 0x5EED { note("(a one in 2^64 spin result)") }  // keeps the spinning from being optimised away
        return value(id)
    }

    /// A fresh random stream for decisions made inside unit `id` (nested operations).
    func rng(for id: Int, salt: UInt64) -> SplitMix64 {
        SplitMix64(seed: mix64(seed ^ (UInt64(truncatingIfNeeded: id) << 20) ^ salt ^ UInt64(truncatingIfNeeded: currentRound) << 48))
    }

    /// Checks a caught error is the `StressError` of one of `ids` and marks it seen.
    func sawError(_ error: any Error, expectedIn ids: Range<Int>, _ what: String) {
        guard let e = error as? StressError else {
            fail("\(what): unexpected error \(error)")
            return
        }
        guard e.round == currentRound, ids.contains(e.id) else {
            fail("\(what): caught the error of unit \(e.id) (round \(e.round)), not one of \(ids)")
            return
        }
        mark(e.id, .seen)
    }
}

/// The context of one operation: where it runs and the stream its random choices come from.
struct Ctx: Sendable {
    let env: Env
    var rng: SplitMix64
    /// 0 for an operation issued by an outside thread; nested operations run inside units.
    let depth: Int
    /// The outside issuing thread, or -1 inside the pool.
    let issuer: Int
    /// The operation's number in `Env.liveOps` (nested operations only), or -1.
    var op = -1

    static let maxDepth = 2

    /// The context for an operation nested inside unit `id`.
    func nested(in id: Int) -> Ctx {
        Ctx(env: env, rng: env.rng(for: id, salt: UInt64(depth) &+ 0xA5A5), depth: depth + 1, issuer: -1)
    }

    var mayNest: Bool { depth < Ctx.maxDepth }

    /// Whether unit `id` should run a nested operation (rarely, and never too deep).
    func shouldNest(_ id: Int) -> Bool {
        mayNest && mix64(UInt64(truncatingIfNeeded: id) ^ env.seed ^ UInt64(truncatingIfNeeded: env.currentRound) << 40) % 24 == 0
    }
}
