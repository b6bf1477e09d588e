import Spindle
import Synchronization

/// The background-tier operations: spawn, submit (resolved synchronously or from async code),
/// the capacity-awaiting variants, `run`, bounded `forEach`/`map`, and Swift tasks on the pool's
/// executor.

/// Tracks one fire-and-forget unit (`spawn`, `spawnAwaitingCapacity`), whose caller never learns
/// when or whether it ran. The closure holds the token, so the token's deinit says when the pool
/// released the closure: after running it, or without running it (allowed only when a graceful
/// shutdown's deadline cancelled queued work).
///
/// `state` bits: 1 the body started, 2 the caller saw the submission accepted, 4 the closure was
/// released. Of "accepted" and "released without running", whichever comes second resolves the
/// drop (the two can happen in either order, on different threads).
final class SpawnToken: Sendable {
    let id: Int
    let env: Env
    let record: PoolRecord
    let ctx: Ctx
    private let state = Atomic<UInt8>(0)

    init(id: Int, record: PoolRecord, ctx: Ctx) {
        self.id = id
        env = ctx.env
        self.record = record
        self.ctx = ctx
        env.unresolved.wrappingAdd(1, ordering: .sequentiallyConsistent)  // before the submission; the barrier waits for zero
        env.spawnStates.withLock { $0[id] = "\(record.label): submitting" }
    }

    /// What the watchdog says about an unresolved spawn (once resolved, the entry stays gone).
    private func note(_ what: String) {
        env.spawnStates.withLock { states in
            if states[id] != nil { states[id] = "\(record.label): \(what)" }
        }
    }

    /// The unit's body, on a worker of the pool. `ctx` is the spawning operation's context.
    func run() {
        state.bitwiseOr(1, ordering: .sequentiallyConsistent)
        note("running")
        env.mark(id, .ran)
        if record.pool.currentThreadIndex == nil {
            env.fail("spawned unit \(id) of \(record.label) ran on a thread outside the pool")
        }
        _ = env.work(id)
        if ctx.shouldNest(id) { Ops.nested(in: id, ctx) }
        resolve()
    }

    func accepted() {
        let old = state.bitwiseOr(2, ordering: .sequentiallyConsistent).oldValue
        if old & 1 == 0 { note("accepted, not started") }
        if old & 5 == 4 { dropped() }
    }

    /// The API refused the submission (and said so).
    func refused() {
        env.mark(id, .notRun)
        resolve()
    }

    deinit {
        let old = state.bitwiseOr(4, ordering: .sequentiallyConsistent).oldValue
        if old & 3 == 2 { dropped() }
    }

    private func dropped() {
        record.drops.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if record.graceMayCancel {
            env.mark(id, .notRun)  // cancelled at the graceful shutdown's deadline
        } else {
            env.note(
                "round \(env.currentRound): spawned unit \(id) of \(record.label) was released without running, without a graceful shutdown"
            )
        }
        resolve()
    }

    private func resolve() {
        env.spawnStates.withLock { _ = $0.removeValue(forKey: id) }
        env.unresolved.wrappingSubtract(1, ordering: .sequentiallyConsistent)  // after the unit's marks
        env.completions.wrappingAdd(1, ordering: .relaxed)  // progress hint
    }
}

/// What each lane of an operation is doing, for its status line.
final class LaneStates: Sendable {
    private let states: Mutex<[String]>
    init(count: Int) { states = Mutex(Array(repeating: "", count: count)) }

    /// Sets lane `lane`'s state; returns all of them, joined.
    func set(_ lane: Int, _ state: String) -> String {
        states.withLock { states in
            states[lane] = state
            return states.joined(separator: "; ")
        }
    }
}

/// Follows one `run` call for the watchdog: listed from the call until it returns, with whether
/// its work started. A call whose work never started on a pool that cancelled its queued work at
/// a graceful shutdown's deadline can be told apart from one that is merely slow.
final class RunToken: Sendable {
    let id: Int
    let env: Env
    let record: PoolRecord
    private let started = Atomic<Bool>(false)

    init(id: Int, env: Env, record: PoolRecord) {
        self.id = id
        self.env = env
        self.record = record
        env.pendingRuns.withLock { $0[id] = self }
    }

    func ran() { started.store(true, ordering: .relaxed) }  // a diagnostic only

    func returned() { _ = env.pendingRuns.withLock { $0.removeValue(forKey: id) } }

    var story: String {
        let how = record.retiredHow.withLock { $0 }
        return "run unit \(id) on \(record.label): work started \(started.load(ordering: .relaxed)), "
            + "pool shut down \(record.pool.isShutDown)\(how.isEmpty ? "" : " [\(how)]"), run() has not returned"
    }
}

extension Ops {
    /// Whether `error` is one the API may report for refused background work on `record`.
    static func isRefusal(_ error: any Error, _ record: PoolRecord) -> Bool {
        guard let error = error as? ThreadPoolError else { return false }
        switch error.code {
        case .shutDown: return true
        case .saturated: return error.limit == record.maxPending
        default: return false
        }
    }

    // MARK: spawn

    static func spawn(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...16)
        guard let base = env.ledger.reserve(k, kind: .spawn) else { return }
        ctx.status("spawn \(k) on \(record.label)")
        for id in base..<base + k {
            let token = SpawnToken(id: id, record: record, ctx: ctx)
            do {
                try record.pool.spawn { token.run() }
                token.accepted()
            } catch {
                if !isRefusal(error, record) { env.fail("spawn on \(record.label) threw \(error)") }
                token.refused()
            }
        }
    }

    // MARK: submit

    /// The body of a submitted unit: its work, sometimes a nested operation, sometimes a throw.
    static func taskBody(_ id: Int, throwing: Bool, _ ctx: Ctx) -> @Sendable () throws -> UInt64 {
        let env = ctx.env
        let round = env.currentRound
        return {
            env.mark(id, .ran)
            let v = env.work(id)
            if ctx.shouldNest(id) { Ops.nested(in: id, ctx) }
            if throwing {
                env.mark(id, .threw)
                throw StressError(id: id, round: round)
            }
            return v
        }
    }

    /// Submits `k` units; refused ones are marked. Returns the accepted handles.
    static func submitAll(_ ctx: inout Ctx, _ record: PoolRecord, base: Int, k: Int) -> [(Int, TaskHandle<UInt64>)] {
        let env = ctx.env
        let thrower = ctx.rng.chance(0.3) ? base + ctx.rng.int(0...k - 1) : -1
        var handles: [(Int, TaskHandle<UInt64>)] = []
        for id in base..<base + k {
            do {
                handles.append((id, try record.pool.submit(taskBody(id, throwing: id == thrower, ctx))))
            } catch {
                if !isRefusal(error, record) { env.fail("submit on \(record.label) threw \(error)") }
                env.mark(id, .notRun)
            }
        }
        handles.shuffle(using: &ctx.rng)
        return handles
    }

    /// Checks one handle's outcome and marks it. `cancelMayHaveStopped`: a cancellation was
    /// requested, so `CancellationError` is allowed.
    static func settle(
        _ outcome: Result<UInt64, any Error>, id: Int, record: PoolRecord, env: Env,
        cancelMayHaveStopped: Bool, stoppedForSure: Bool, _ what: String
    ) {
        switch outcome {
        case .success(let v):
            if stoppedForSure { env.fail("\(what): cancel() said the task would never run, yet it returned a value") }
            if v != env.value(id) { env.fail("\(what): unit \(id) returned \(v), want \(env.value(id))") }
        case .failure(let error as StressError):
            if stoppedForSure { env.fail("\(what): cancel() said the task would never run, yet it threw its error") }
            env.sawError(error, expectedIn: id..<id + 1, what)
        case .failure(is CancellationError):
            if !(cancelMayHaveStopped || record.graceMayCancel) {
                env.fail("\(what): unit \(id) on \(record.label) reported CancellationError, but nothing cancelled it")
            }
            env.mark(id, .notRun)
        case .failure(let error):
            env.fail("\(what): unit \(id) reported \(error)")
            env.mark(id, .notRun)
        }
    }

    static func submit(_ ctx: inout Ctx) {
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...8)
        guard let base = env.ledger.reserve(k, kind: .submit) else { return }
        ctx.status("submit \(k) on \(record.label), then wait/cancel")
        for (id, handle) in submitAll(&ctx, record, base: base, k: k) {
            let cancel = ctx.rng.chance(0.3)
            let stopped = cancel ? handle.cancel() : false
            if cancel && !handle.isCancelled { env.fail("isCancelled is false after cancel()") }
            let outcome = Result { try handle.wait() }
            if !handle.isComplete { env.fail("handle not complete after wait()") }
            settle(outcome, id: id, record: record, env: env, cancelMayHaveStopped: cancel, stoppedForSure: stopped, "submit/wait")
        }
    }

    static func submitAsync(_ ctx: Ctx) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...8)
        guard let base = env.ledger.reserve(k, kind: .submitAsync) else { return }
        ctx.status("submit \(k) on \(record.label), then await value")
        for (id, handle) in submitAll(&ctx, record, base: base, k: k) {
            switch ctx.rng.int(0...3) {
            case 0:
                let outcome = await catching { try await handle.value }
                settle(outcome, id: id, record: record, env: env, cancelMayHaveStopped: false, stoppedForSure: false, "submit/value")
            case 1:
                // A timeout says nothing about the task: then wait for its real outcome.
                let timeout = Duration.microseconds(ctx.rng.pick([0, 50, 500, 2_000]))
                var outcome = await catching { try await handle.value(timeout: timeout) }
                if case .failure(let error as ThreadPoolError) = outcome {
                    if error != .timedOut(timeout) { env.fail("value(timeout:) threw \(error)") }
                    outcome = await catching { try await handle.value }
                }
                settle(
                    outcome, id: id, record: record, env: env, cancelMayHaveStopped: false, stoppedForSure: false, "submit/value(timeout:)")
            case 2:
                // The awaiting task is cancelled: the submitted task is cancelled if it has not started.
                let waiter = Task { await catching { try await handle.value } }
                if ctx.rng.chance(0.5) { await Task.yield() }
                waiter.cancel()
                let outcome = await waiter.value
                settle(
                    outcome, id: id, record: record, env: env, cancelMayHaveStopped: true, stoppedForSure: false, "submit/cancelled value")
            default:
                let stopped = handle.cancel()
                let outcome = await catching { try await handle.value }
                settle(
                    outcome, id: id, record: record, env: env, cancelMayHaveStopped: true, stoppedForSure: stopped, "submit/cancel/value")
            }
        }
    }

    // MARK: Waiting for capacity

    /// Up to three concurrent lanes of submissions that wait for capacity, each lane cancelled
    /// or not on its own, so that waiters of one pool queue up behind each other and some of them
    /// are cancelled while others wait.
    static func awaitingCapacity(_ ctx: Ctx) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...12)
        guard let base = env.ledger.reserve(k, kind: .awaitingCapacity) else { return }
        let lanes = ctx.rng.int(1...3)
        let cancelled = (0..<lanes).map { _ in ctx.rng.chance(0.3) }
        let thrower = ctx.rng.chance(0.2) ? base + ctx.rng.int(0...k - 1) : -1
        let useSpawn = (0..<k).map { _ in ctx.rng.chance(0.5) }
        let delays = (0..<lanes).map { _ in ctx.rng.chance(0.5) ? ctx.rng.int(0...300) : -1 }
        let parent = ctx
        let what = "spawn/submitAwaitingCapacity \(k) in \(lanes) lanes on \(record.label)"
        ctx.status(what)
        let laneStates = LaneStates(count: lanes)
        /// Each lane's step, all in the operation's status line.
        @Sendable func laneStatus(_ lane: Int, _ state: String) {
            parent.status(what + ": " + laneStates.set(lane, state))
        }

        /// One lane: items `lane`, `lane + lanes`, … in order.
        @Sendable func submitLane(_ lane: Int) async {
            let cancel = cancelled[lane]
            for j in stride(from: lane, to: k, by: lanes) {
                let id = base + j
                laneStatus(
                    lane, "lane \(lane)\(cancel ? " (cancelled)" : ""): \(useSpawn[j] ? "spawn" : "submit")AwaitingCapacity of unit \(id)")
                if useSpawn[j] {
                    let token = SpawnToken(id: id, record: record, ctx: parent)
                    do {
                        try await record.pool.spawnAwaitingCapacity { token.run() }
                        token.accepted()
                    } catch is CancellationError {
                        if !cancel { env.fail("spawnAwaitingCapacity threw CancellationError in a task nobody cancelled") }
                        token.refused()
                    } catch {
                        if !isRefusal(error, record) { env.fail("spawnAwaitingCapacity on \(record.label) threw \(error)") }
                        token.refused()
                    }
                } else {
                    let handle: TaskHandle<UInt64>
                    do {
                        handle = try await record.pool.submitAwaitingCapacity(taskBody(id, throwing: id == thrower, parent))
                    } catch is CancellationError {
                        if !cancel { env.fail("submitAwaitingCapacity threw CancellationError in a task nobody cancelled") }
                        env.mark(id, .notRun)
                        continue
                    } catch {
                        if !isRefusal(error, record) { env.fail("submitAwaitingCapacity on \(record.label) threw \(error)") }
                        env.mark(id, .notRun)
                        continue
                    }
                    // In a cancelled task, `value` cancels the submitted task if it has not started.
                    laneStatus(lane, "lane \(lane)\(cancel ? " (cancelled)" : ""): awaiting the value of unit \(id)")
                    let outcome = await catching { try await handle.value }
                    settle(
                        outcome, id: id, record: record, env: env, cancelMayHaveStopped: cancel, stoppedForSure: false,
                        "submitAwaitingCapacity/value")
                }
            }
            laneStatus(lane, "lane \(lane): done")
        }

        let tasks = (0..<lanes).map { lane in Task { await submitLane(lane) } }
        for lane in 0..<lanes where cancelled[lane] {
            if delays[lane] >= 0 { try? await Task.sleep(for: .microseconds(delays[lane])) }
            tasks[lane].cancel()
        }
        for task in tasks { await task.value }
    }

    // MARK: run

    static func run(_ ctx: Ctx) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...8)
        guard let base = env.ledger.reserve(k, kind: .run) else { return }
        let thrower = ctx.rng.chance(0.3) ? base + ctx.rng.int(0...k - 1) : -1
        let plans = (0..<k).map { _ in (cancel: ctx.rng.chance(0.3), delay: ctx.rng.int(0...2)) }
        let parent = ctx
        ctx.status("run \(k) on \(record.label)")
        await withTaskGroup(of: Void.self) { group in
            for j in 0..<k {
                let id = base + j
                group.addTask {
                    let token = RunToken(id: id, env: env, record: record)
                    let body = taskBody(id, throwing: id == thrower, parent)
                    let caller = Task {
                        try await record.pool.run { () throws -> UInt64 in
                            token.ran()
                            if record.pool.currentThreadIndex == nil {
                                env.fail("run work of unit \(id) ran outside \(record.label)")
                            }
                            return try body()
                        }
                    }
                    if plans[j].cancel {
                        if plans[j].delay > 0 { try? await Task.sleep(for: .microseconds(50 * plans[j].delay)) }
                        caller.cancel()
                    }
                    let outcome = await caller.result
                    token.returned()
                    if case .failure(let error as ThreadPoolError) = outcome, error == .shutDown {
                        env.mark(id, .notRun)
                        return
                    }
                    settle(
                        outcome, id: id, record: record, env: env, cancelMayHaveStopped: plans[j].cancel,
                        stoppedForSure: false, "run")
                }
            }
        }
    }

    // MARK: Bounded forEach / map

    static func bounded(_ ctx: Ctx, map: Bool) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let n = ctx.rng.int(0...40)
        guard let base = env.ledger.reserve(n, kind: map ? .boundedMap : .boundedForEach) else { return }
        let maxConcurrent = ctx.rng.int(1...8)
        let cancel = ctx.rng.chance(0.2)
        let thrower = !cancel && n > 0 && ctx.rng.chance(0.3) ? base + ctx.rng.int(0...n - 1) : -1
        let round = env.currentRound
        let parent = ctx
        let ids = base..<base + n
        let what = "\(map ? "map" : "forEach")(maxConcurrent: \(maxConcurrent)) of \(n) on \(record.label)"
        ctx.status(what + (cancel ? ", cancelled" : ""))
        let sum = SharedSum()
        @Sendable func body(_ i: Int) async throws -> UInt64 {
            let id = base + i
            env.mark(id, .ran)
            Ops.checkOnPool(record, env, "\(what): body of unit \(id)")
            let v = env.work(id)
            if i & 3 == 0 { await Task.yield() }
            if parent.shouldNest(id) { await Ops.nestedAsync(in: id, parent) }
            if id == thrower {
                env.mark(id, .threw)
                throw StressError(id: id, round: round)
            }
            return v
        }
        let caller = Task { () async -> Result<[UInt64], any Error> in
            await catching {
                if map {
                    return try await record.pool.map(0..<n, maxConcurrent: maxConcurrent) { try await body($0) }
                }
                try await record.pool.forEach(0..<n, maxConcurrent: maxConcurrent) { sum.add(try await body($0)) }
                return []
            }
        }
        if cancel {
            if ctx.rng.chance(0.5) { try? await Task.sleep(for: .microseconds(ctx.rng.int(0...300))) }
            caller.cancel()
        }
        let values = ids.map { env.value($0) }
        switch await caller.value {
        case .success(let results):
            if thrower >= 0 { env.fail("\(what) returned although unit \(thrower) threw") }
            if map ? results != values : sum.total != values.reduce(0, &+) {
                env.fail("\(what): results differ from the sequential ones")
            }
        case .failure(let error as StressError):
            env.sawError(error, expectedIn: ids, what)
            markSkipped(env, ids)  // the first error takes no further element
        case .failure(is CancellationError):
            if !cancel { env.fail("\(what) threw CancellationError, but nothing cancelled it") }
            markSkipped(env, ids)
        case .failure(let error):
            env.fail("\(what) threw \(error)")
            markSkipped(env, ids)
        }
    }

    /// Work that prefers the pool must run on its workers, unless the pool is shut down (then
    /// Swift's global executor takes its jobs).
    static func checkOnPool(_ record: PoolRecord, _ env: Env, _ what: String) {
        if record.pool.currentThreadIndex == nil && !record.pool.isShutDown {
            env.fail("\(what) ran outside \(record.label), which is not shut down")
        }
    }

    // MARK: Tasks on the pool's executor

    static func executorTask(_ ctx: Ctx) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...6)
        guard let base = env.ledger.reserve(k, kind: .executorTask) else { return }
        ctx.status("\(k) tasks on the executor of \(record.label)")
        var tasks: [Task<UInt64, Never>] = []
        let parent = ctx
        for id in base..<base + k {
            let nestSync = ctx.rng.chance(0.5)
            tasks.append(
                Task(executorPreference: record.pool) {
                    env.mark(id, .ran)
                    Ops.checkOnPool(record, env, "executor task of unit \(id)")
                    let v = env.work(id)
                    if parent.shouldNest(id) {
                        if nestSync { Ops.nested(in: id, parent) } else { await Ops.nestedAsync(in: id, parent) }
                    }
                    await Task.yield()
                    Ops.checkOnPool(record, env, "executor task of unit \(id), after a suspension")
                    return v
                })
            if ctx.rng.chance(0.2) { tasks.last!.cancel() }  // a task's body runs anyway
        }
        for (j, task) in tasks.enumerated() {
            let v = await task.value
            if v != env.value(base + j) { env.fail("executor task of unit \(base + j) returned \(v)") }
        }
    }
}
