import Spindle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs the whole stress test: rounds of random operations from the issuing threads, each round
/// checked once everything in it has come back, until the time is up.
enum Driver {
    static func main(_ arguments: [String]) -> Int32 {
        let options = Options.parse(arguments)
        writeLine(
            "spindle-stress: seed \(options.seed), \(options.seconds) s, \(options.pools) pools of 1...\(options.threads) threads, \(options.issuers) issuing threads"
                + (options.excluded.isEmpty ? "" : ", excluding \(options.excluded.map(\.name).sorted().joined(separator: ","))"))
        var rng = SplitMix64(seed: options.seed)
        let pools = PoolSet(count: options.pools, maxThreads: options.threads, rng: &rng)
        let env = Env(options: options, pools: pools)
        let watchdog = Watchdog(env: env)
        let watchdogThread = startThread { watchdog.loop() }
        let issuers = (0..<options.issuers).map { index in startThread { Issuer.loop(env, index: index) } }

        let start = monotonicSeconds()
        let end = start + options.seconds
        var lastReport = start
        var round = 0
        var reported = 0
        repeat {
            round += 1
            env.ledger.reset()
            env.roundOpen.store(true, ordering: .releasing)
            env.round.store(round, ordering: .releasing)  // publishes the reset ledger to the issuers
            let roundStart = monotonicSeconds()
            while env.ledger.used < options.roundUnits && monotonicSeconds() - roundStart < options.roundSeconds
                && monotonicSeconds() < end
            {
                sleepMicroseconds(1_000)
            }
            env.roundOpen.store(false, ordering: .releasing)
            watchdog.phase("round \(round): waiting for the issuers to finish their operations")
            while env.arrived.load(ordering: .sequentiallyConsistent) < options.issuers * round { sleepMicroseconds(300) }
            watchdog.phase("round \(round): waiting for fire-and-forget units to resolve")
            while env.unresolved.load(ordering: .sequentiallyConsistent) > 0
                || env.activeOps.load(ordering: .sequentiallyConsistent) > 0
            {
                sleepMicroseconds(300)
            }
            watchdog.phase("round \(round): checking")
            var tally = env.ledger.check { line in
                if reported < 200 { writeLine("spindle-stress: round \(round): \(line)", to: 2) }
                reported += 1
            }
            tally.wrong += env.wrong.exchange(0, ordering: .sequentiallyConsistent)
            env.totals.withLock { $0 += tally }
            env.completions.wrappingAdd(1, ordering: .relaxed)  // progress hint
            let now = monotonicSeconds()
            if now - lastReport >= 10 || options.verbose {
                lastReport = now
                writeLine("spindle-stress: \(format(now - start)) s, round \(round): \(env.totals.withLock { $0 }.summary)")
            }
        } while monotonicSeconds() < end

        watchdog.phase("stopping the issuers")
        env.stopping.store(true, ordering: .releasing)
        for thread in issuers { thread.join() }
        watchdog.phase("shutting the pools down")
        for record in pools.snapshot() { record.pool.shutdown() }
        watchdog.stop()
        watchdogThread.join()

        let counts = OpKind.allCases.map { "\($0.name) \(env.issued.load(Int($0.rawValue)))" }.joined(separator: ", ")
        writeLine("spindle-stress: \(round) rounds in \(format(monotonicSeconds() - start)) s; operations: \(counts)")
        let total = env.totals.withLock { $0 }
        writeLine(
            "spindle-stress: cancelled = \(total.cancelled - total.skipped) cancelled or refused by the API + \(total.skipped) skipped by loops that stopped early; failed = ran and threw, and the caller caught that error"
        )
        writeLine(total.summary)
        return total.isClean ? 0 : 1
    }
}

/// One decimal place, without Foundation.
func format(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
}
