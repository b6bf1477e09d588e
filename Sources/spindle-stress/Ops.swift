import Synchronization
import Spindle

/// Choosing and running operations: from the outside issuing threads, and nested inside units
/// that run on pool workers (or in Swift tasks on a pool's executor).
enum Ops {
    static func runSync(_ kind: OpKind, _ ctx: inout Ctx) {
        ctx.op = begin(kind, ctx)
        defer { end(kind, ctx) }
        switch kind {
        case .joinTree: joinTree(&ctx)
        case .scope: scope(&ctx)
        case .spawn: spawn(&ctx)
        case .submit: submit(&ctx)
        case .parallelLoop: parallelLoop(&ctx)
        case .parallelSort: parallelSort(&ctx)
        case .updateEach: updateEach(&ctx)
        case .broadcast: broadcast(&ctx)
        case .spawnBroadcast: spawnBroadcast(&ctx)
        default: preconditionFailure("\(kind.name) is not a synchronous operation")
        }
    }

    static func runAsync(_ kind: OpKind, _ ctx: Ctx) async {
        var ctx = ctx
        ctx.op = begin(kind, ctx)
        defer { end(kind, ctx) }
        switch kind {
        case .submitAsync: await submitAsync(ctx)
        case .awaitingCapacity: await awaitingCapacity(ctx)
        case .run: await run(ctx)
        case .boundedForEach: await bounded(ctx, map: false)
        case .boundedMap: await bounded(ctx, map: true)
        case .executorTask: await executorTask(ctx)
        case .asyncTask: await asyncTask(ctx)
        case .taskScope: await taskScope(ctx)
        default:
            var copy = ctx
            copy.op = -1
            runSync(kind, &copy)
        }
    }

    /// Counts the operation in, and lists nested ones (with the thread they run on) for the watchdog.
    private static func begin(_ kind: OpKind, _ ctx: Ctx) -> Int {
        let env = ctx.env
        env.activeOps.wrappingAdd(1, ordering: .sequentiallyConsistent)  // the barrier waits for zero
        env.issued.add(Int(kind.rawValue), 1)
        env.inFlight.add(Int(kind.rawValue), 1)
        guard ctx.depth > 0 else { return -1 }
        let op = env.nextOp.wrappingAdd(1, ordering: .relaxed).oldValue  // a unique number; orders nothing
        let description = "\(kind.name) at depth \(ctx.depth) on \(env.whereAmI())"
        env.liveOps.withLock { $0[op] = description }
        return op
    }

    private static func end(_ kind: OpKind, _ ctx: Ctx) {
        let env = ctx.env
        if ctx.op >= 0 { _ = env.liveOps.withLock { $0.removeValue(forKey: ctx.op) } }
        env.inFlight.add(Int(kind.rawValue), -1)
        env.completions.wrappingAdd(1, ordering: .relaxed)  // progress hint
        env.activeOps.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // after the operation's marks
    }

    static func allowed(_ kinds: [OpKind], _ env: Env) -> [OpKind] {
        kinds.filter { !env.options.excluded.contains($0) }
    }

    /// A synchronous operation nested inside unit `id` (on whatever thread runs that unit).
    static func nested(in id: Int, _ parent: Ctx) {
        var ctx = parent.nested(in: id)
        let kinds = allowed(OpKind.synchronous, ctx.env)
        guard !kinds.isEmpty else { return }
        runSync(ctx.rng.pick(kinds), &ctx)
    }

    /// Any operation nested inside async unit `id`, in a task of its own, so that it inherits
    /// no cancellation from the unit's task (its own cancellations are planned).
    static func nestedAsync(in id: Int, _ parent: Ctx) async {
        var ctx = parent.nested(in: id)
        let kinds = allowed(OpKind.synchronous + OpKind.asynchronous, ctx.env)
        guard !kinds.isEmpty else { return }
        let kind = ctx.rng.pick(kinds)
        await Task { await runAsync(kind, ctx) }.value
    }

    /// The outcome of async `body`.
    static func catching<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }
}

extension Ctx {
    /// Tells the watchdog what this operation does, if an outside thread issued it.
    func status(_ what: String) {
        if depth == 0 {
            env.board.set(issuer, what)
        } else if op >= 0 {
            env.liveOps.withLock { ops in
                if let head = ops[op]?.split(separator: ":", maxSplits: 1).first { ops[op] = "\(head): \(what)" }
            }
        }
    }
}

/// An outside issuing thread: in every round, issues random operations until the round closes.
/// Pool replacements and resizes come only from these threads: a shutdown or a shrink waits for
/// the pool's workers, so issued from inside a pool it could wait for its own caller.
enum Issuer {
    static func loop(_ env: Env, index: Int) {
        var rng = SplitMix64(seed: mix64(env.seed &+ UInt64(index + 1) &* 0x2545_F491_4F6C_DD1D))
        let kinds = Ops.allowed(OpKind.synchronous + OpKind.asynchronous, env)
        let mayReplace = !env.options.excluded.contains(.replacePool)
        let mayResize = !env.options.excluded.contains(.resize)
        var lastRound = 0
        while true {
            env.board.set(index, "waiting for round \(lastRound + 1)")
            while env.round.load(ordering: .acquiring) == lastRound && !env.stopping.load(ordering: .acquiring) {
                sleepMicroseconds(200)
            }
            if env.stopping.load(ordering: .acquiring) { return }
            lastRound = env.round.load(ordering: .acquiring)  // pairs with the driver's releasing store
            while env.roundOpen.load(ordering: .acquiring) {
                if mayReplace && rng.chance(0.01) {
                    replacePool(env, &rng, issuer: index)
                    continue
                }
                if mayResize && rng.chance(0.01) {
                    resize(env, &rng, issuer: index)
                    continue
                }
                guard !kinds.isEmpty else {
                    sleepMicroseconds(1_000)
                    continue
                }
                let kind = rng.pick(kinds)
                var ctx = Ctx(env: env, rng: rng.fork(), depth: 0, issuer: index)
                env.board.set(index, kind.name)
                if OpKind.synchronous.contains(kind) {
                    Ops.runSync(kind, &ctx)
                } else {
                    let fixed = ctx
                    blockOn { await Ops.runAsync(kind, fixed) }
                }
            }
            env.board.set(index, "done with round \(lastRound)")
            env.arrived.wrappingAdd(1, ordering: .sequentiallyConsistent)  // the driver's barrier
        }
    }

    /// Puts a new pool in place of a random one and ends the old one mid-flight: `shutdown()`,
    /// `shutdown(gracePeriod:)` (often too short, so queued work is cancelled), or by dropping
    /// the last reference. Other threads may still be using it.
    static func replacePool(_ env: Env, _ rng: inout SplitMix64, issuer: Int) {
        env.activeOps.wrappingAdd(1, ordering: .sequentiallyConsistent)
        env.issued.add(Int(OpKind.replacePool.rawValue), 1)
        defer {
            env.completions.wrappingAdd(1, ordering: .relaxed)
            env.activeOps.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        let old = env.pools.replaceRandom(&rng)
        old.closeBroadcasts()
        switch rng.int(0...3) {
        case 0:
            env.board.set(issuer, "shutdown() of \(old.label)")
            old.retiredHow.withLock { $0 = "shutdown()" }
            old.pool.shutdown()
            if !old.pool.isShutDown { env.fail("\(old.label) not shut down after shutdown()") }
        case 1:
            let grace = Duration.microseconds(rng.pick([0, 0, 100, 1_000, 5_000, 20_000]))
            env.board.set(issuer, "shutdown(gracePeriod: \(grace)) of \(old.label)")
            old.retiredHow.withLock { $0 = "shutdown(gracePeriod: \(grace))" }
            old.graceStarted.store(true, ordering: .releasing)  // before any cancellation it allows
            let clean = blockOn { await old.pool.shutdown(gracePeriod: grace) }
            let drops = old.drops.load(ordering: .sequentiallyConsistent)
            if clean && drops > 0 {
                env.fail("shutdown(gracePeriod:) of \(old.label) returned true, yet \(drops) spawned closures were dropped")
            }
            old.retiredHow.withLock { $0 += clean ? " → clean" : " → cancelled queued work" }
        case 2:
            // From inside first (it returns at once), then from outside: the outside call must
            // still return only after everything queued before the first one has run.
            env.board.set(issuer, "shutdown() from inside, then from outside, of \(old.label)")
            old.retiredHow.withLock { $0 = "shutdown() from a job, then shutdown()" }
            var queued: UInt64 = 0
            let ran = SharedSum(), insideDone = SharedSum()  // read after shutdown() returned, which orders them
            for _ in 0..<rng.int(0...8) where (try? old.pool.spawn { ran.add(1) }) != nil { queued += 1 }
            let insideQueued =
                (try? old.pool.spawn {
                    old.pool.shutdown()
                    insideDone.add(1)
                }) != nil
            if insideQueued && rng.chance(0.5) {
                while insideDone.total == 0 { sleepMicroseconds(100) }  // the inside call came first
            }
            old.pool.shutdown()
            if ran.total != queued {
                env.fail("shutdown() of \(old.label) after one from inside returned with \(ran.total) of \(queued) queued jobs run")
            }
        default:
            env.board.set(issuer, "dropping \(old.label)")
            old.retiredHow.withLock { $0 = "last reference dropped" }
        }
    }

    /// Grows or shrinks a random pool while others use it.
    static func resize(_ env: Env, _ rng: inout SplitMix64, issuer: Int) {
        env.activeOps.wrappingAdd(1, ordering: .sequentiallyConsistent)
        env.issued.add(Int(OpKind.resize.rawValue), 1)
        defer {
            env.completions.wrappingAdd(1, ordering: .relaxed)
            env.activeOps.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        let record = env.pools.random(&rng)
        let threads = rng.int(1...min(record.pool.maxThreadCount, env.pools.maxThreads + 1))
        env.board.set(issuer, "resize(threads: \(threads)) of \(record.label)")
        if rng.chance(0.3), record.enterBroadcast() {
            // From inside: a shrink then a grow from one worker's broadcast part (the shrink may
            // retire that very worker; the grow must put it back to work, not wait for it).
            defer { record.leaveBroadcast() }
            let chosen = rng.int(0...max(0, record.pool.threadCount - 1))
            let shrinkTo = rng.int(1...max(1, threads))
            env.board.set(issuer, "resize(\(shrinkTo)) then resize(\(threads)) from worker \(chosen) of \(record.label)")
            let errors = Mutex<[ThreadPoolError]>([])
            _ = record.pool.broadcast { context in
                guard context.index == chosen else { return }
                do throws(ThreadPoolError) {
                    try record.pool.resize(threads: shrinkTo)
                    try record.pool.resize(threads: threads)
                } catch {
                    errors.withLock { $0.append(error) }
                }
            }
            for error in errors.withLock({ $0 }) where error != .shutDown {
                env.fail("resize from inside \(record.label) threw \(error)")
            }
            return
        }
        do {
            try record.pool.resize(threads: threads)
        } catch {
            if error != .shutDown { env.fail("resize(threads: \(threads)) of \(record.label) threw \(error)") }
        }
    }
}
