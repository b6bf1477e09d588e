@_spi(SchedulerCounters) import Spindle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Fails the run when nothing moves for `--stall-seconds` while work is outstanding: prints every
/// pool's metrics, what each issuing thread and the driver were doing, and which units never came
/// back, then exits with status 2.
final class Watchdog: Sendable {
    let env: Env
    private let stopped = Atomic<Bool>(false)
    private let driverPhase = Mutex<String>("starting")
    /// The driver is waiting on the pools itself (the final shutdowns).
    private let driverWaiting = Atomic<Bool>(false)

    init(env: Env) { self.env = env }

    func phase(_ what: String) {
        driverPhase.withLock { $0 = what }
        driverWaiting.store(what.hasPrefix("shutting"), ordering: .relaxed)  // a hint for the next look
    }

    func stop() { stopped.store(true, ordering: .relaxed) }  // orders nothing; the loop just ends

    private var progress: Int {
        env.ledger.progress.load(ordering: .relaxed) &+ env.completions.load(ordering: .relaxed)
    }

    private var outstanding: Bool {
        env.activeOps.load(ordering: .relaxed) > 0 || env.unresolved.load(ordering: .relaxed) > 0
            || driverWaiting.load(ordering: .relaxed)
    }

    func loop() {
        var last = progress
        var lastChange = monotonicSeconds()
        while !stopped.load(ordering: .relaxed) {
            sleepMicroseconds(100_000)
            let now = monotonicSeconds()
            let current = progress
            if current != last || !outstanding {
                last = current
                lastChange = now
            } else if now - lastChange >= env.options.stallSeconds {
                report(stalledFor: now - lastChange)
                // SPINDLE_STRESS_STALL_HOLD=S: stay S seconds for a debugger to attach (gdb -p).
                if let hold = getenv("SPINDLE_STRESS_STALL_HOLD").flatMap({ UInt32(String(cString: $0)) }) { sleep(hold) }
                _exit(2)  // not exit(): other threads are stuck, and nothing more should run
            }
        }
    }

    static func describe(_ record: PoolRecord) -> String {
        let m = record.pool.metrics
        var line = "\(record.label): shutDown \(record.pool.isShutDown)"
        let how = record.retiredHow.withLock { $0 }
        if !how.isEmpty { line += " [\(how)]" }
        line += ", busyThreads \(m.busyThreads)/\(m.threadCount), queued foreground \(m.queuedForegroundJobs)"
        line += ", queued background \(m.queuedBackgroundJobs), pendingTasks \(m.pendingTasks)"
        line += m.maxPending.map { " of maxPending \($0)" } ?? ""
        line += ", completed \(m.completedTasks), failed \(m.failedTasks), cancelled \(m.cancelledTasks)"
        line += ", executorJobs \(m.executorJobs), steals \(m.steals), promotions \(m.heartbeatPromotions)"
        line += " | \(record.pool._schedulerState)"
        return line
    }

    private func report(stalledFor seconds: Double) {
        var lines: [String] = []
        let round = env.currentRound
        lines.append("STALL: no progress for \(format(seconds)) s in round \(round) (seed \(env.seed))")
        lines.append("driver: \(driverPhase.withLock { $0 })")
        let (current, retired) = env.pools.all()
        for record in current { lines.append("pool in use: " + Self.describe(record)) }
        for record in retired { lines.append("pool replaced, still referenced: " + Self.describe(record)) }
        for line in env.board.describe() { lines.append(line) }
        let inFlight = OpKind.allCases.compactMap { kind -> String? in
            let n = env.inFlight.load(Int(kind.rawValue))
            return n == 0 ? nil : "\(kind.name) \(n)"
        }
        lines.append("operations in flight (any depth): \(inFlight.isEmpty ? "none" : inFlight.joined(separator: ", "))")
        for op in env.liveOps.withLock({ $0.sorted { $0.key < $1.key } }).prefix(30) { lines.append("nested operation: \(op.value)") }
        lines.append("fire-and-forget units unresolved: \(env.unresolved.load(ordering: .relaxed))")
        for (id, state) in env.spawnStates.withLock({ $0.sorted { $0.key < $1.key } }).prefix(20) {
            lines.append("unresolved spawn unit \(id) on \(state)")
        }
        let runs = env.pendingRuns.withLock { $0.sorted { $0.key < $1.key }.map(\.value) }
        for token in runs.prefix(20) { lines.append("pending: \(token.story)") }
        let missing = env.ledger.unaccounted(limit: 20)
        lines.append(
            "units of round \(round) not accounted for (first \(missing.count)): "
                + missing.map { "\($0.0) (\($0.1.kindName))" }.joined(separator: ", "))
        for line in lines { writeLine("spindle-stress: \(line)", to: 2) }
        // The summary: the checked rounds, plus this round as it stands (units still out count as lost).
        var tally = env.totals.withLock { $0 }
        tally += env.ledger.check { _ in }
        tally.wrong += env.wrong.load(ordering: .relaxed)
        writeLine(tally.summary)
    }
}
