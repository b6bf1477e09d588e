import Synchronization

/// The kinds of operation the tool issues. Each unit of work carries its operation's kind in its
/// ledger entry, so that a lost or duplicated unit says where it came from.
enum OpKind: UInt8, CaseIterable, Sendable {
    case joinTree = 1
    case scope
    case spawn
    case submit
    case submitAsync
    case awaitingCapacity
    case run
    case boundedForEach
    case boundedMap
    case parallelLoop
    case parallelSort
    case updateEach
    case executorTask
    case broadcast
    case spawnBroadcast
    case replacePool
    case resize
    case asyncTask
    case taskScope

    var name: String {
        switch self {
        case .joinTree: "join"
        case .scope: "scope"
        case .spawn: "spawn"
        case .submit: "submit"
        case .submitAsync: "submit-async"
        case .awaitingCapacity: "awaiting-capacity"
        case .run: "run"
        case .boundedForEach: "forEach"
        case .boundedMap: "map"
        case .parallelLoop: "parallel"
        case .parallelSort: "sort"
        case .updateEach: "updateEach"
        case .executorTask: "executor-task"
        case .broadcast: "broadcast"
        case .spawnBroadcast: "spawnBroadcast"
        case .replacePool: "replace-pool"
        case .resize: "resize"
        case .asyncTask: "async-task"
        case .taskScope: "task-scope"
        }
    }

    /// Operations that never block waiting for async code: allowed anywhere, also inside pool workers.
    static let synchronous: [OpKind] = [
        .joinTree, .scope, .spawn, .submit, .parallelLoop, .parallelSort, .updateEach, .broadcast, .spawnBroadcast,
    ]
    /// Operations that need an async context.
    static let asynchronous: [OpKind] = [
        .submitAsync, .awaitingCapacity, .run, .boundedForEach, .boundedMap, .executorTask, .asyncTask, .taskScope,
    ]
}

/// One fixed array of atomic counters (per operation kind, say), usable from any thread.
final class Counters: @unchecked Sendable {  // a fixed allocation, only ever touched through atomic operations
    private let slots: UnsafeMutablePointer<Atomic<Int>>
    let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        for i in 0..<count { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func add(_ i: Int, _ delta: Int) { slots[i].wrappingAdd(delta, ordering: .relaxed) }  // statistics; orders nothing
    func load(_ i: Int) -> Int { slots[i].load(ordering: .relaxed) }
}

/// The fields of a unit's ledger word: five 8-bit counts, and the operation kind in the top byte.
/// Every change is an atomic add, so no mark can overwrite another, and a count above 1 stays
/// visible.
enum Mark: UInt64 {
    /// The unit's body started.
    case ran = 0
    /// The API told the caller the unit will never run (cancelled, refused, or skipped by a loop
    /// that stopped early).
    case notRun = 8
    /// The unit's body threw its `StressError`.
    case threw = 16
    /// A caller caught that `StressError`.
    case seen = 24
    /// Of the not-run marks: skipped by a loop or a broadcast that legitimately stopped short.
    case skipped = 32
    /// An id reserved but not needed after all (a broadcast narrower than the pool's maximum):
    /// nothing may happen to it.
    case unused = 40

    static let kindShift: UInt64 = 56
}

struct UnitState {
    let word: UInt64
    func count(_ mark: Mark) -> Int { Int((word >> mark.rawValue) & 255) }
    var kind: OpKind? { OpKind(rawValue: UInt8(truncatingIfNeeded: word >> Mark.kindShift)) }
    var kindName: String { kind?.name ?? "?" }
    var description: String {
        "\(kindName) ran \(count(.ran)), not-run \(count(.notRun)) (skipped \(count(.skipped))), threw \(count(.threw)), "
            + "error seen \(count(.seen)), unused \(count(.unused))"
    }
}

/// What a checked round (or the whole run) added up to.
struct Tally {
    var ran = 0
    var cancelled = 0
    /// Of `cancelled`: units skipped by a loop that stopped early (an error, a search's answer).
    var skipped = 0
    var failed = 0
    var lost = 0
    var duplicated = 0
    var wrong = 0

    static func += (a: inout Tally, b: Tally) {
        a.ran += b.ran
        a.cancelled += b.cancelled
        a.skipped += b.skipped
        a.failed += b.failed
        a.lost += b.lost
        a.duplicated += b.duplicated
        a.wrong += b.wrong
    }

    var summary: String {
        var line = "ran \(ran), cancelled \(cancelled), failed \(failed), lost \(lost)"
        if duplicated > 0 { line += ", duplicated \(duplicated)" }
        if wrong > 0 { line += ", wrong \(wrong)" }
        return line
    }

    var isClean: Bool { lost == 0 && duplicated == 0 && wrong == 0 }
}

/// Per-round accounting: one atomic word per unit id, preallocated once and zeroed between
/// rounds, so that a run of any length uses the same memory.
final class Ledger: @unchecked Sendable {  // a fixed allocation of atomics; `reset` runs only between rounds, when no unit is in flight
    let capacity: Int
    private let slots: UnsafeMutablePointer<Atomic<UInt64>>
    /// The next id to hand out in this round.
    private let nextID = Atomic<Int>(0)
    /// Bumped by every mark: the watchdog's measure of progress.
    let progress = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Ids handed out so far in this round.
    var used: Int { min(nextID.load(ordering: .acquiring), capacity) }

    /// Hands out `n` consecutive fresh ids for units of `kind`, or nil when the round's storage is full.
    func reserve(_ n: Int, kind: OpKind) -> Int? {
        precondition(n >= 0)
        var current = nextID.load(ordering: .relaxed)
        while true {
            guard current + n <= capacity else { return nil }
            let (exchanged, original) = nextID.compareExchange(
                expected: current, desired: current + n, ordering: .relaxed)  // the id range only; marks carry their own ordering
            if exchanged { break }
            current = original
        }
        for id in current..<current + n {
            // An add, not a store: a (buggy) early mark by another thread could not be overwritten.
            slots[id].wrappingAdd(UInt64(kind.rawValue) << Mark.kindShift, ordering: .relaxed)
        }
        return current
    }

    /// Records `mark` for unit `id`. Sequentially consistent: the end-of-round check must see
    /// every mark made before the operations it waited for reported completion.
    func mark(_ id: Int, _ mark: Mark) {
        slots[id].wrappingAdd(1 << mark.rawValue, ordering: .sequentiallyConsistent)
        progress.wrappingAdd(1, ordering: .relaxed)  // a progress hint for the watchdog
    }

    func state(_ id: Int) -> UnitState { UnitState(word: slots[id].load(ordering: .sequentiallyConsistent)) }

    /// Checks every id of the round; `report` receives one line per bad id.
    func check(report: (String) -> Void) -> Tally {
        var tally = Tally()
        for id in 0..<used {
            let s = state(id)
            let ran = s.count(.ran), notRun = s.count(.notRun), threw = s.count(.threw), seen = s.count(.seen)
            if s.count(.unused) > 0 {
                if s.count(.unused) > 1 || ran + notRun + threw + seen > 0 {
                    tally.wrong += 1
                    report("unit \(id) was not needed, yet something happened to it (\(s.description))")
                }
            } else if ran == 0 && notRun == 0 {
                tally.lost += 1
                report("lost: unit \(id) (\(s.description))")
            } else if ran + notRun > 1 {
                tally.duplicated += 1
                report("duplicated: unit \(id) (\(s.description))")
            } else if threw != seen || threw > 1 || (notRun == 1 && threw > 0) || s.count(.skipped) > notRun {
                tally.wrong += 1
                report("error mismatch: unit \(id) (\(s.description))")
            } else if ran == 1 {
                if threw == 1 { tally.failed += 1 } else { tally.ran += 1 }
            } else {
                tally.cancelled += 1
                tally.skipped += s.count(.skipped)
            }
        }
        return tally
    }

    /// Ids not yet accounted for (neither ran nor reported), for a stall report.
    func unaccounted(limit: Int) -> [(Int, UnitState)] {
        var found: [(Int, UnitState)] = []
        for id in 0..<used where found.count < limit {
            let s = state(id)
            if s.count(.ran) == 0 && s.count(.notRun) == 0 && s.count(.unused) == 0 { found.append((id, s)) }
        }
        return found
    }

    /// Zeroes the used part for the next round. Only between rounds.
    func reset() {
        for id in 0..<used { slots[id].store(0, ordering: .relaxed) }  // published by the round's start (releasing)
        nextID.store(0, ordering: .releasing)
    }
}

/// The error a unit throws: it names the unit, so the caller that catches it can mark exactly
/// that unit's error as seen.
struct StressError: Error, Equatable {
    let id: Int
    let round: Int
}
