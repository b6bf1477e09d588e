import Spindle
import Synchronization

/// The synchronous fork-join operations: nested (and cross-pool) joins, scopes, broadcasts,
/// parallel loops, sorts and in-place updates. Each reserves one id per unit of work, marks
/// what happened to each, and checks its result against a sequential answer.

/// A running sum shared by the units of one operation.
final class SharedSum: Sendable {
    let value = Atomic<UInt64>(0)
    func add(_ v: UInt64) { value.wrappingAdd(v, ordering: .relaxed) }  // read after the operation returned, which orders it
    var total: UInt64 { value.load(ordering: .relaxed) }
}

/// fib with a join at every level, on whatever pool the calling thread belongs to.
func fibJoin(_ n: Int) -> Int {
    if n < 2 { return n }
    let (a, b) = Spindle.join({ fibJoin(n - 1) }, { fibJoin(n - 2) })
    return a + b
}

func fibSequential(_ n: Int) -> Int {
    var (a, b) = (0, 1)
    for _ in 0..<n { (a, b) = (b, a + b) }
    return a
}

// MARK: Join trees

/// A complete binary tree of joins. Nodes are numbered heap-style from 1 (the root call's two
/// closures are nodes 1 and 2; node i's closures are 2i+1 and 2i+2); node i is unit `base + i - 1`.
/// Each inner node joins on a pool picked by its hash: one of the pools (so a join on pool A may
/// have a branch that joins on pool B) or the current thread's pool (`Spindle.join`).
struct JoinPlan: Sendable {
    let ctx: Ctx
    let base: Int
    let nodes: Int
    /// The node that throws (after its children finished), or 0.
    let thrower: Int
    let pools: [PoolRecord]
    let round: Int

    var env: Env { ctx.env }
    func id(_ node: Int) -> Int { base + node - 1 }
    func isLeaf(_ node: Int) -> Bool { 2 * node + 1 > nodes }
    func hash(_ node: Int) -> UInt64 {
        mix64(UInt64(truncatingIfNeeded: id(node)) ^ env.seed ^ UInt64(truncatingIfNeeded: round) << 40 ^ 0x701)
    }
    /// nil: `Spindle.join` on the current thread's pool.
    func pool(_ node: Int) -> PoolRecord? {
        let h = Int(hash(node) % UInt64(pools.count + 1))
        return h == pools.count ? nil : pools[h]
    }
    func fibN(_ node: Int) -> Int { 4 + Int((hash(node) >> 8) % 15) }

    func run(_ node: Int) throws(StressError) -> UInt64 {
        let id = id(node)
        env.mark(id, .ran)
        var total = env.work(id)
        if isLeaf(node) {
            let n = fibN(node)
            if let record = pool(node), hash(node) & 0x10000 != 0 {
                // A three- and a four-way join on a pool, checked against fib's recurrences.
                let (a, b, c) = record.pool.join({ fibJoin(n) }, { fibJoin(n - 1) }, { fibJoin(n - 2) })
                let (d, e, f, g) = record.pool.join({ fibJoin(n - 1) }, { fibJoin(n - 2) }, { fibJoin(n - 3) }, { fibJoin(n - 2) })
                if a != b + c || d + e != a || e + f != d || g != e {
                    env.fail("n-way joins of fib(\(n)) disagree: \((a, b, c, d, e, f, g))")
                }
                total &+= UInt64(a)
            } else {
                total &+= UInt64(fibJoin(n))
            }
            if ctx.shouldNest(id) { Ops.nested(in: id, ctx) }
        } else {
            let left = 2 * node + 1, right = 2 * node + 2
            let (a, b): (UInt64, UInt64)
            if let record = pool(node) {
                (a, b) = try record.pool.join(
                    { () throws(StressError) -> UInt64 in try run(left) },
                    { () throws(StressError) -> UInt64 in try run(right) })
            } else {
                (a, b) = try Spindle.join(
                    { () throws(StressError) -> UInt64 in try run(left) },
                    { () throws(StressError) -> UInt64 in try run(right) })
            }
            total &+= a &+ b
        }
        if node == thrower {
            env.mark(id, .threw)
            throw StressError(id: id, round: round)
        }
        return total
    }

    func expected(_ node: Int) -> UInt64 {
        var total = env.value(id(node))
        if isLeaf(node) {
            total &+= UInt64(fibSequential(fibN(node)))
        } else {
            total &+= expected(2 * node + 1) &+ expected(2 * node + 2)
        }
        return total
    }
}

extension Ops {
    static func joinTree(_ ctx: inout Ctx) {
        let env = ctx.env
        let pools = env.pools.snapshot()
        let root = ctx.rng.pick(pools)
        let levels = ctx.rng.int(1...4)
        let nodes = (1 << (levels + 1)) - 2
        guard let base = env.ledger.reserve(nodes, kind: .joinTree) else { return }
        let thrower = ctx.rng.chance(0.25) ? ctx.rng.int(1...nodes) : 0
        ctx.status("join tree of \(nodes) closures from \(root.label)")
        let plan = JoinPlan(ctx: ctx, base: base, nodes: nodes, thrower: thrower, pools: pools, round: env.currentRound)
        do {
            let (a, b) = try root.pool.join(
                { () throws(StressError) -> UInt64 in try plan.run(1) },
                { () throws(StressError) -> UInt64 in try plan.run(2) })
            if thrower != 0 { env.fail("join tree returned although node \(thrower) threw") }
            let want = plan.expected(1) &+ plan.expected(2)
            if a &+ b != want { env.fail("join tree on \(root.label): got \(a &+ b), want \(want)") }
        } catch {
            env.sawError(error, expectedIn: base..<base + nodes, "join tree")
        }
    }

    // MARK: Scopes

    static func scope(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let other = env.pools.random(&ctx.rng)
        let first = ctx.rng.int(1...24)
        let childCounts = (0..<first).map { _ in ctx.rng.chance(0.3) ? ctx.rng.int(1...3) : 0 }
        let total = first + childCounts.reduce(0, +)
        guard let base = env.ledger.reserve(total, kind: .scope) else { return }
        var childStarts: [Int] = []
        var next = base + first
        for c in childCounts {
            childStarts.append(next)
            next += c
        }
        let thrower = ctx.rng.chance(0.25) ? base + ctx.rng.int(0...total - 1) : -1
        let crossPool = ctx.rng.chance(0.3)
        ctx.status("scope on \(record.label): \(total) spawns")
        let sum = SharedSum()
        let round = env.currentRound
        let parent = ctx

        /// One spawned unit: its work, then (first generation) its own spawns, some made from a
        /// thread of another pool (`other.install`), so that they come from outside the scope's pool.
        @Sendable func unit(_ id: Int, _ scope: Scope<StressError>, children: Range<Int>) throws(StressError) {
            env.mark(id, .ran)
            sum.add(env.work(id))
            for child in children {
                let body: @Sendable () throws(StressError) -> Void = { () throws(StressError) in
                    try unit(child, scope, children: 0..<0)
                }
                if crossPool { other.pool.install { scope.spawn(body) } } else { scope.spawn(body) }
            }
            if parent.shouldNest(id) { Ops.nested(in: id, parent) }
            if id == thrower {
                env.mark(id, .threw)
                throw StressError(id: id, round: round)
            }
        }

        do {
            try record.pool.scope { (s: Scope<StressError>) throws(StressError) -> Void in
                for j in 0..<first {
                    let children = childStarts[j]..<childStarts[j] + childCounts[j]
                    s.spawn { () throws(StressError) in try unit(base + j, s, children: children) }
                }
            }
            if thrower >= 0 { env.fail("scope returned although unit \(thrower) threw") }
        } catch {
            env.sawError(error, expectedIn: base..<base + total, "scope")
        }
        // Every spawn has finished when `scope` returns, thrown or not.
        let want = (base..<base + total).reduce(UInt64(0)) { $0 &+ env.value($1) }
        if sum.total != want {
            env.fail("scope on \(record.label): sum \(sum.total), want \(want) (a spawn ran after scope returned, or not at all)")
        }
    }

    // MARK: Broadcasts

    /// A broadcast has one part per worker, and a resize may change the number of workers up to
    /// the moment it is admitted: ids are reserved for the most the pool can have, the parts
    /// report the width they saw, and ids beyond it are marked unused afterwards.
    static func broadcast(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        guard record.enterBroadcast() else { return }  // the pool is being shut down
        defer { record.leaveBroadcast() }
        let most = record.pool.maxThreadCount
        guard let base = env.ledger.reserve(most, kind: .broadcast) else { return }
        let thrower = ctx.rng.chance(0.25) ? ctx.rng.int(0...record.pool.threadCount - 1) : -1
        let round = env.currentRound
        let width = Atomic<Int>(-1)
        ctx.status("broadcast on \(record.label)")
        do {
            let results = try record.pool.broadcast { (context: BroadcastContext) throws(StressError) -> Int in
                let id = base + context.index
                env.mark(id, .ran)
                _ = env.work(id)
                _ = fibJoin(6)  // a join inside the part, on the part's pool
                let seen = width.exchange(context.threadCount, ordering: .relaxed)  // read after the broadcast returned
                if seen != -1 && seen != context.threadCount {
                    env.fail("broadcast parts saw \(seen) and \(context.threadCount) threads")
                }
                if context.index == thrower {
                    env.mark(id, .threw)
                    throw StressError(id: id, round: round)
                }
                return context.index
            }
            if thrower >= 0 && thrower < results.count { env.fail("broadcast returned although part \(thrower) threw") }
            if results != Array(0..<results.count) { env.fail("broadcast on \(record.label) returned \(results)") }
            if results.count != max(width.load(ordering: .relaxed), 0) {
                env.fail("broadcast returned \(results.count) results, its parts saw \(width.load(ordering: .relaxed)) threads")
            }
        } catch {
            env.sawError(error, expectedIn: base..<base + most, "broadcast")
        }
        let n = width.load(ordering: .relaxed)
        guard n >= 1 else {
            env.fail("broadcast on \(record.label) ran no part")
            return
        }
        // Every part of the broadcast's width must have run; the rest of the ids had no worker.
        for id in base + n..<base + most { env.mark(id, .unused) }
    }

    /// `spawnBroadcast` then `wait()`: parts cancelled by a graceful shutdown's deadline are the
    /// only ones allowed not to run.
    static func spawnBroadcast(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let most = record.pool.maxThreadCount
        guard let base = env.ledger.reserve(most, kind: .spawnBroadcast) else { return }
        ctx.status("spawnBroadcast on \(record.label)")
        let handle: BroadcastHandle<Int>
        do {
            handle = try record.pool.spawnBroadcast { context in
                env.mark(base + context.index, .ran)
                _ = env.work(base + context.index)
                return context.index * 1_000 + context.threadCount
            }
        } catch {
            if error != .shutDown { env.fail("spawnBroadcast threw \(error)") }
            for id in base..<base + most { env.mark(id, .notRun) }
            return
        }
        var width = -1
        do {
            let results = try handle.wait()
            width = results.count
            if results != (0..<width).map({ $0 * 1_000 + width }) {
                env.fail("spawnBroadcast on \(record.label) returned \(results)")
            }
        } catch is CancellationError {
            if !record.graceMayCancel { env.fail("spawnBroadcast on \(record.label): CancellationError without a graceful shutdown") }
            // Every part has finished (run or cancelled) when `wait` throws.
            for id in base..<base + most where env.ledger.state(id).count(.ran) == 0 { env.mark(id, .notRun) }
        } catch {
            env.fail("spawnBroadcast wait threw \(error)")
        }
        if !handle.isComplete { env.fail("spawnBroadcast handle not complete after wait") }
        if width >= 0 {
            for id in base + width..<base + most { env.mark(id, .unused) }
        }
    }

    // MARK: Parallel loops

    static func randomStrategy(_ rng: inout SplitMix64) -> SplitStrategy {
        switch rng.int(0...3) {
        case 0: .adaptive
        case 1: .evenly
        case 2: .chunks(of: rng.pick([1, 2, 7, 32, 100, 1_000]))
        default: .perItem
        }
    }

    /// Marks every unit of `ids` that did not run as skipped: allowed only after a loop that
    /// stopped early (an error, or a search that found its answer). A unit that still runs
    /// afterwards shows up as duplicated.
    static func markSkipped(_ env: Env, _ ids: Range<Int>) {
        for id in ids where env.ledger.state(id).count(.ran) == 0 { env.markSkipped(id) }
    }

    static func parallelLoop(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        // Mostly short loops; now and then one long enough for many adaptive splits.
        let n = ctx.rng.chance(0.05) ? ctx.rng.int(0...3) : ctx.rng.chance(0.1) ? ctx.rng.int(1_500...12_000) : ctx.rng.int(1...1_500)
        guard let base = env.ledger.reserve(n, kind: .parallelLoop) else { return }
        let strategy = randomStrategy(&ctx.rng)
        let viaInstall = ctx.rng.chance(0.5)
        let variant = ctx.rng.int(0...6)
        let thrower = n > 0 && ctx.rng.chance(0.25) ? ctx.rng.int(0...n - 1) : -1
        let round = env.currentRound
        let ids = base..<base + n
        ctx.status("parallel loop #\(variant) of \(n) on \(record.label), \(strategy)\(viaInstall ? " via install" : "")")
        let source = viaInstall ? (0..<n).parallel : (0..<n).parallel(on: record.pool)
        let items = source.split(strategy)
        /// Runs `body` as part of the pool when the loop uses the implicit (current) pool.
        func onPool<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
            viaInstall ? try record.pool.install(body) : try body()
        }
        @Sendable func visit(_ i: Int) -> UInt64 {
            env.mark(base + i, .ran)
            return env.work(base + i)
        }
        @Sendable func visitOrThrow(_ i: Int) throws(StressError) -> UInt64 {
            let v = visit(i)
            if i == thrower {
                env.mark(base + i, .threw)
                throw StressError(id: base + i, round: round)
            }
            return v
        }
        let values = (0..<n).map { env.value(base + $0) }
        do {
            switch variant {
            case 0:
                let sum = onPool { items.map { Int(visit($0)) }.sum() }
                let want = values.reduce(0) { $0 + Int($1) }
                if sum != want { env.fail("parallel sum of \(n) (\(strategy)) = \(sum), want \(want)") }
            case 1:
                let got = onPool { items.map { visit($0) }.collect() }
                if got != values { env.fail("parallel map/collect of \(n) (\(strategy)) differs from the sequential result") }
            case 2:
                let got = onPool { items.filter { visit($0) & 1 == 0 }.collect() }
                let want = (0..<n).filter { values[$0] & 1 == 0 }
                if got != want { env.fail("parallel filter/collect of \(n) (\(strategy)) differs from the sequential result") }
            case 3:
                let hit = try onPool { () throws(StressError) -> Int? in
                    try items.first(where: { (i: Int) throws(StressError) -> Bool in try visitOrThrow(i) & 63 == 0 })
                }
                let want = (0..<n).first { values[$0] & 63 == 0 }
                if hit != want { env.fail("parallel first(where:) of \(n) (\(strategy)) = \(hit as Any), want \(want as Any)") }
                if let t = Optional(thrower), t >= 0, t <= (want ?? n - 1) {
                    env.fail("parallel first(where:) returned although position \(t), before the answer, throws")
                }
                // A search must have looked at every position before its answer.
                for i in 0..<(want ?? n) where env.ledger.state(base + i).count(.ran) != 1 {
                    env.fail("parallel first(where:) (\(strategy)) answered without evaluating position \(i) of \(n)")
                    break
                }
                markSkipped(env, ids)
                return
            case 4:
                let sum = SharedSum()
                try onPool { () throws(StressError) in
                    try items.forEach { (i: Int) throws(StressError) in sum.add(try visitOrThrow(i)) }
                }
                let want = values.reduce(UInt64(0), &+)
                if sum.total != want { env.fail("parallel forEach of \(n) (\(strategy)): sum \(sum.total), want \(want)") }
            case 5:
                let count = try onPool { () throws(StressError) -> Int in
                    try items.count(where: { (i: Int) throws(StressError) -> Bool in try visitOrThrow(i) & 3 == 0 })
                }
                let want = values.filter { $0 & 3 == 0 }.count
                if count != want { env.fail("parallel count(where:) of \(n) (\(strategy)) = \(count), want \(want)") }
            default:
                let total = onPool { items.map { visit($0) }.reduce(0, { $0 &+ $1 }) }
                let want = values.reduce(UInt64(0), &+)
                if total != want { env.fail("parallel reduce of \(n) (\(strategy)) = \(total), want \(want)") }
            }
            if thrower >= 0 && [3, 4, 5].contains(variant) {
                env.fail("parallel loop #\(variant) returned although position \(thrower) throws")
            }
        } catch {
            env.sawError(error, expectedIn: ids, "parallel loop #\(variant)")
            markSkipped(env, ids)  // a throw stops the other ranges
        }
    }

    // MARK: Sorting and in-place updates

    static func parallelSort(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        // Pieces below 65,536 elements are sorted sequentially: a quarter of the sorts are larger.
        let n = ctx.rng.chance(0.05) ? ctx.rng.int(0...2) : ctx.rng.chance(0.25) ? ctx.rng.int(65_536...300_000) : ctx.rng.int(3...20_000)
        guard let id = env.ledger.reserve(1, kind: .parallelSort) else { return }
        let range = ctx.rng.chance(0.5) ? 1_000_000 : 50  // few distinct values: many ties
        var numbers = (0..<n).map { _ in ctx.rng.int(0...range) }
        let want = numbers.sorted()
        let variant = ctx.rng.int(0...3)
        let round = env.currentRound
        ctx.status("parallel sort #\(variant) of \(n) on \(record.label)")
        env.mark(id, .ran)
        switch variant {
        case 0:
            numbers.parallelSort(on: record.pool)
        case 1:
            record.pool.install { numbers.parallelSort() }
        case 2:
            numbers.parallelSort(on: record.pool, by: { $0 > $1 })
            numbers.reverse()
        default:
            // A comparator that throws when it meets one value, or at its k-th call (any phase:
            // piece sorts or merges): the error must come back, and the elements must still be a
            // permutation of the input.
            let poison = numbers.isEmpty ? -1 : numbers[ctx.rng.int(0...n - 1)]
            let throwAtCall = ctx.rng.chance(0.5) ? ctx.rng.int(1...max(1, n * 20)) : nil
            let calls = Atomic<Int>(0)
            let threw = Atomic<Bool>(false)
            do {
                try numbers.parallelSort(
                    on: record.pool,
                    by: { (a: Int, b: Int) throws(StressError) -> Bool in
                        let call = calls.wrappingAdd(1, ordering: .relaxed).newValue  // a count; orders nothing
                        if throwAtCall.map({ call == $0 }) ?? (a == poison || b == poison) {
                            if !threw.exchange(true, ordering: .relaxed) { env.mark(id, .threw) }  // once per unit; the mark orders itself
                            throw StressError(id: id, round: round)
                        }
                        return a < b
                    })
                // A count past the sort's comparisons never throws.
                if n >= 2 && (throwAtCall.map { $0 <= calls.load(ordering: .relaxed) } ?? true) {
                    env.fail("a sort of \(n) with a throwing comparator returned normally")
                }
            } catch {
                env.sawError(error, expectedIn: id..<id + 1, "parallel sort")
            }
            numbers.sort()
        }
        if numbers != want { env.fail("parallel sort #\(variant) of \(n) on \(record.label) differs from the sequential sort") }
    }

    static func updateEach(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let n = ctx.rng.int(0...3_000)
        guard let base = env.ledger.reserve(n, kind: .updateEach) else { return }
        let strategy = randomStrategy(&ctx.rng)
        let viaInstall = ctx.rng.chance(0.5)
        let thrower = n > 0 && ctx.rng.chance(0.2) ? ctx.rng.int(0...n - 1) : -1
        let round = env.currentRound
        ctx.status("parallelUpdateEach of \(n) on \(record.label), \(strategy)")
        // Each element starts as its own position, so the update knows its unit.
        var elements = (0..<n).map { UInt64($0) }
        let update = { @Sendable (x: inout UInt64) throws(StressError) -> Void in
            let i = Int(x)
            env.mark(base + i, .ran)
            let v = env.work(base + i)
            if i == thrower {
                env.mark(base + i, .threw)
                throw StressError(id: base + i, round: round)
            }
            x = v | 1 << 32  // cannot be mistaken for a position
        }
        var stopped = false
        do {
            if viaInstall {
                try record.pool.install { () throws(StressError) in try elements.parallelUpdateEach(split: strategy, update) }
            } else {
                try elements.parallelUpdateEach(on: record.pool, split: strategy, update)
            }
            if thrower >= 0 { env.fail("parallelUpdateEach returned although position \(thrower) throws") }
        } catch {
            env.sawError(error, expectedIn: base..<base + n, "parallelUpdateEach")
            stopped = true
        }
        for i in 0..<n {
            let ran = env.ledger.state(base + i).count(.ran) == 1
            let want: UInt64 = ran && i != thrower ? env.value(base + i) | 1 << 32 : UInt64(i)
            if elements[i] != want {
                env.fail("parallelUpdateEach of \(n) (\(strategy)): element \(i) is \(elements[i]), want \(want)")
                break
            }
            if !ran && !stopped {
                env.fail("parallelUpdateEach of \(n) (\(strategy)) returned without updating element \(i)")
                break
            }
        }
        if stopped { markSkipped(env, base..<base + n) }
    }
}
