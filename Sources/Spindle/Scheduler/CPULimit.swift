import CSpindle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many CPUs the process may use: its affinity mask, capped by the cgroup v2 `cpu.max`
/// quota of its cgroup *and of every ancestor* (a container's limit is often set on a parent:
/// a pod's cgroup above the container's, a systemd slice above a service). The tightest quota
/// wins, rounded up (`150000 100000` is 1.5 CPUs: 2 threads).
///
/// The paths are parameters so that tests can read a fake tree: `procSelfCgroup` names the
/// process's cgroup (the `0::/path` line of cgroup v2), `cgroupRoot` is where the v2 hierarchy
/// is mounted. A missing or unreadable file means no limit from it.
struct CPULimit: Sendable, Equatable {
    var procSelfCgroup = "/proc/self/cgroup"
    var cgroupRoot = "/sys/fs/cgroup"
    /// Replaces the affinity mask's CPU count (tests); `nil` reads the mask.
    var affinityOverride: Int? = nil

    /// The limit of the running system.
    static let system = CPULimit()

    /// The usable CPU count: at least 1.
    func usableCores() -> Int {
        let affinity = affinityOverride ?? Int(spindle_affinity_cpu_count())
        guard let quota = cgroupQuota() else { return max(1, affinity) }
        return max(1, min(affinity, quota))
    }

    /// The tightest `cpu.max` quota on the path from the process's cgroup up to the root, in
    /// whole CPUs rounded up, or `nil` when no cgroup on the path has one.
    func cgroupQuota() -> Int? {
        guard let text = Self.readSmallFile(procSelfCgroup), let path = Self.cgroupV2Path(text) else {
            // No cgroup v2 entry: try the mount root alone (a container with its own namespace).
            return Self.readSmallFile(cgroupRoot + "/cpu.max").flatMap(Self.quotaCPUs)
        }
        var tightest: Int? = nil
        var components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        while true {
            let directory = components.isEmpty ? cgroupRoot : cgroupRoot + "/" + components.joined(separator: "/")
            if let cpus = Self.readSmallFile(directory + "/cpu.max").flatMap(Self.quotaCPUs) {
                tightest = min(tightest ?? cpus, cpus)
            }
            if components.isEmpty { return tightest }
            components.removeLast()
        }
    }

    /// The cgroup v2 path in the text of `/proc/self/cgroup`: the line `0::/path`.
    static func cgroupV2Path(_ text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    /// Whole CPUs (rounded up, at least 1) of a `cpu.max` text `"<quota> <period>"`; `nil` for
    /// `"max …"` (no quota) or text that is not a quota.
    static func quotaCPUs(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard fields.count >= 1, fields[0] != "max", let quota = Int(fields[0]), quota > 0 else { return nil }
        let period = fields.count >= 2 ? Int(fields[1]) ?? 100_000 : 100_000
        guard period > 0 else { return nil }
        return max(1, (quota + period - 1) / period)
    }

    /// The contents of a small text file (up to 64 KiB), or `nil` if it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        // SAFETY: `path` is passed as a NUL-terminated C string that lives for the call.
        let descriptor = unsafe open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while bytes.count < 65_536 {
            // SAFETY: `chunk` has `chunk.count` bytes of storage for `read` to fill.
            let got = unsafe chunk.withUnsafeMutableBytes { unsafe read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 { return nil }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[..<got])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
