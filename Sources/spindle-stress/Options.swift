import Spindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Command-line options.
struct Options: Sendable {
    var seconds: Double = 10
    /// Pools get a random size in `1...threads`.
    var threads: Int = max(2, ThreadPool.usableCoreCount)
    var seed: UInt64 = 0
    var pools: Int = 3
    /// Outside threads (plain pthreads) issuing operations.
    var issuers: Int = 4
    var stallSeconds: Double = 10
    /// A round ends once this many ids are handed out (or after `roundSeconds`).
    var roundUnits: Int = 4_000
    var roundSeconds: Double = 0.5
    /// Operation kinds left out (`--exclude`), or the only ones run (`--only`).
    var excluded: Set<OpKind> = []
    var verbose = false

    static let usage = """
        usage: spindle-stress --seconds N [--threads T] [--seed S] [--pools P] [--issuers I]
                              [--stall-seconds S] [--round-units U] [--exclude k1,k2] [--only k1,k2] [--verbose]
          Random mixes of Spindle's APIs on P pools (1...T threads each, replaced and resized
          mid-flight), from I outside threads and from inside the pools, in rounds of about U units
          of work; every unit must run exactly once or be reported not run, and every result must
          match a sequential computation. Ends with: ran N, cancelled C, failed F, lost L.
          operation kinds: \(OpKind.allCases.map(\.name).joined(separator: ", "))
          defaults: --seconds 10 --threads max(2, cores) --pools 3 --issuers 4 --stall-seconds 10
                    --round-units 4000, seed from the clock (printed first)
        exit status: 0 all accounted for; 1 lost, duplicated or wrong results; 2 stall (watchdog); 64 bad usage
        """

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var seedGiven = false
        var i = 1
        func value() -> String {
            i += 1
            guard i < arguments.count else { usageError("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        func number(_ text: String) -> Double {
            guard let v = Double(text), v.isFinite, v >= 0 else { usageError("not a number: \(text)") }
            return v
        }
        func count(_ text: String) -> Int {
            guard let v = Int(text), v >= 1 else { usageError("not a positive integer: \(text)") }
            return v
        }
        func kinds(_ text: String) -> Set<OpKind> {
            Set(
                text.split(separator: ",").map { name in
                    guard let kind = OpKind.allCases.first(where: { $0.name == name }) else {
                        usageError("unknown operation kind: \(name)")
                    }
                    return kind
                })
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--seconds": options.seconds = number(value())
            case "--threads": options.threads = count(value())
            case "--seed":
                guard let s = UInt64(value()) else { usageError("--seed needs an unsigned integer") }
                options.seed = s
                seedGiven = true
            case "--pools": options.pools = count(value())
            case "--issuers": options.issuers = count(value())
            case "--stall-seconds": options.stallSeconds = number(value())
            case "--round-units": options.roundUnits = count(value())
            case "--exclude": options.excluded = kinds(value())
            case "--only": options.excluded = Set(OpKind.allCases).subtracting(kinds(value()))
            case "--verbose": options.verbose = true
            case "-h", "--help":
                writeLine(usage)
                exit(0)
            default: usageError("unknown argument: \(arguments[i])")
            }
            i += 1
        }
        if !seedGiven {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            options.seed = mix64(UInt64(ts.tv_sec) &* 1_000_000_007 &+ UInt64(ts.tv_nsec)) % 1_000_000_000_000
        }
        return options
    }
}

func usageError(_ message: String) -> Never {
    writeLine("spindle-stress: \(message)\n\(Options.usage)", to: 2)
    exit(64)
}
