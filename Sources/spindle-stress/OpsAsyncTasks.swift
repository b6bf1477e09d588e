import Spindle

// Async tasks under maxPending (`submit`/`spawn` of async closures, their handles and timeouts)
// and task scopes: every accepted unit runs exactly once, every refused or cancelled-before-start
// unit never does, and errors reach the caller.

extension Ops {
    /// An async unit's body: marks it run, works, suspends, and maybe sleeps (cancellably).
    static func asyncBody(_ id: Int, throwing: Bool, sleeps: Bool, _ ctx: Ctx) -> @Sendable () async throws -> UInt64 {
        let env = ctx.env
        let round = env.currentRound
        return {
            env.mark(id, .ran)
            let v = env.work(id)
            await Task.yield()
            if sleeps { try? await Task.sleep(for: .microseconds(300)) }  // a timeout may cut it short
            if throwing {
                env.mark(id, .threw)
                throw StressError(id: id, round: round)
            }
            return v
        }
    }

    /// Async closures through `submit`/`submitAwaitingCapacity`, with timeouts on some (never on
    /// the thrower, whose error must reach the caller); then each handle's value, some after a
    /// `cancel()`.
    static func asyncTask(_ ctx: Ctx) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...8)
        guard let base = env.ledger.reserve(k, kind: .asyncTask) else { return }
        ctx.status("submit \(k) async closures on \(record.label)")
        let thrower = ctx.rng.chance(0.3) ? base + ctx.rng.int(0...k - 1) : -1
        var handles: [(Int, TaskHandle<UInt64>, timed: Bool)] = []
        for id in base..<base + k {
            let timed = id != thrower && ctx.rng.chance(0.3)
            let timeout: ThreadPool.TaskTimeout = timed ? .after(.microseconds(ctx.rng.pick([50, 200, 2_000]))) : .configured
            let body = asyncBody(id, throwing: id == thrower, sleeps: ctx.rng.chance(0.5), ctx)
            do {
                let handle =
                    ctx.rng.chance(0.5)
                    ? try record.pool.submit(timeout: timeout, body)
                    : try await record.pool.submitAwaitingCapacity(timeout: timeout, body)
                handles.append((id, handle, timed))
            } catch {
                if !isRefusal(error, record) && !(error is CancellationError) {
                    env.fail("async submit on \(record.label) threw \(error)")
                }
                env.mark(id, .notRun)
            }
        }
        for (id, handle, timed) in handles {
            let cancel = ctx.rng.chance(0.25)
            let stopped = cancel ? handle.cancel() : false
            var outcome = await catching { try await handle.value }
            if timed, case .failure(let error as ThreadPoolError) = outcome, error.code == .taskTimedOut {
                outcome = .success(env.value(id))  // it ran (its body marked it) and was cut short
            }
            if cancel, case .failure(is CancellationError) = outcome, !stopped {
                outcome = .success(env.value(id))  // cancelled while it ran: its body saw it
            }
            settle(outcome, id: id, record: record, env: env, cancelMayHaveStopped: cancel, stoppedForSure: stopped, "async submit/value")
        }
    }

    /// A task scope spawning `k` async units (one may throw); the enclosing task may be
    /// cancelled instead (then nothing throws, so that every error reaches the caller).
    static func taskScope(_ ctx: Ctx) async {
        var ctx = ctx
        let env = ctx.env
        let record = env.pools.random(&ctx.rng)
        let k = ctx.rng.int(1...16)
        guard let base = env.ledger.reserve(k, kind: .taskScope) else { return }
        let cancelCaller = ctx.rng.chance(0.25)
        let thrower = !cancelCaller && ctx.rng.chance(0.3) ? base + ctx.rng.int(0...k - 1) : -1
        let sleeps = (0..<k).map { _ in ctx.rng.chance(0.5) }
        ctx.status("task scope of \(k) on \(record.label)\(cancelCaller ? ", caller cancelled" : "")")
        let parent = ctx
        let caller = Task { () -> Result<Void, any Error> in
            await catching {
                try await record.pool.withTaskScope { scope in
                    for j in 0..<k {
                        let id = base + j
                        do {
                            let body = asyncBody(id, throwing: id == thrower, sleeps: sleeps[j], parent)
                            try await scope.spawn { _ = try await body() }
                        } catch {
                            // Refused: this unit and the rest never run.
                            if !(error is CancellationError) && !isRefusal(error, record) {
                                env.fail("scope.spawn on \(record.label) threw \(error)")
                            }
                            for later in id..<base + k { env.mark(later, .notRun) }
                            throw error
                        }
                    }
                }
            }
        }
        if cancelCaller {
            if ctx.rng.chance(0.5) { await Task.yield() }
            caller.cancel()
        }
        switch await caller.value {
        case .success:
            if thrower >= 0 && !record.pool.isShutDown { env.fail("a task scope with a throwing unit returned normally") }
        case .failure(let error as StressError):
            env.sawError(error, expectedIn: base..<base + k, "task scope")
        case .failure(let error):
            if error is CancellationError {
                if !cancelCaller && thrower < 0 { env.fail("a task scope nobody cancelled threw CancellationError") }
            } else if !isRefusal(error, record) {
                env.fail("task scope on \(record.label) threw \(error)")
            } else if thrower >= 0, env.ledger.state(thrower).count(.threw) == 1 {
                // A refusal (the pool shut down) was the scope's first error: the unit's own error
                // came later and is dropped by the first-error rule. Every task has ended here.
                env.mark(thrower, .seen)
            }
        }
    }
}
