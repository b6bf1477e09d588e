import Foundation
import Testing
@testable import Spindle

/// A fake cgroup v2 tree in a fresh temporary directory: `quotas` maps a cgroup path ("" for
/// the root, "a/b" below it) to the text of its `cpu.max`; the process's cgroup is `leaf`.
struct FakeCgroupTree {
    let directory: URL

    init(leaf: String?, quotas: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spindle-cgroup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("root"), withIntermediateDirectories: true)
        if let leaf {
            try "12:cpu,cpuacct:/ignored/v1\n0::/\(leaf)\n".write(
                to: directory.appendingPathComponent("cgroup"), atomically: true, encoding: .utf8)
        } else {
            try "12:cpu,cpuacct:/only/v1\n".write(to: directory.appendingPathComponent("cgroup"), atomically: true, encoding: .utf8)
        }
        for (path, text) in quotas { try setQuota(text, at: path) }
    }

    func setQuota(_ text: String, at path: String) throws {
        let folder = path.isEmpty ? directory.appendingPathComponent("root") : directory.appendingPathComponent("root/\(path)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try text.write(to: folder.appendingPathComponent("cpu.max"), atomically: true, encoding: .utf8)
    }

    func limit(affinity: Int) -> CPULimit {
        CPULimit(
            procSelfCgroup: directory.appendingPathComponent("cgroup").path,
            cgroupRoot: directory.appendingPathComponent("root").path, affinityOverride: affinity)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("CPU limit")
struct CPULimitTests {
    @Test("cpu.max texts: quotas round up, max and nonsense mean no quota")
    func parsing() {
        #expect(CPULimit.quotaCPUs("max 100000\n") == nil)
        #expect(CPULimit.quotaCPUs("150000 100000\n") == 2)
        #expect(CPULimit.quotaCPUs("50000 100000") == 1)
        #expect(CPULimit.quotaCPUs("400000 100000") == 4)
        #expect(CPULimit.quotaCPUs("100000") == 1)  // the period defaults to 100 ms
        #expect(CPULimit.quotaCPUs("") == nil)
        #expect(CPULimit.quotaCPUs("fast 100000") == nil)
        #expect(CPULimit.quotaCPUs("-1 100000") == nil)
        #expect(CPULimit.cgroupV2Path("3:memory:/x\n0::/system.slice/app.service\n") == "/system.slice/app.service")
        #expect(CPULimit.cgroupV2Path("3:memory:/x\n") == nil)
    }

    @Test("an ancestor's quota caps the process, not only its own cgroup's")
    func ancestors() throws {
        let tree = try FakeCgroupTree(
            leaf: "kubepods/pod1/container",
            quotas: ["kubepods": "200000 100000", "kubepods/pod1": "max 100000", "kubepods/pod1/container": "max 100000"])
        defer { tree.remove() }
        #expect(tree.limit(affinity: 16).cgroupQuota() == 2)
        #expect(tree.limit(affinity: 16).usableCores() == 2)
        // The affinity mask is tighter still.
        #expect(tree.limit(affinity: 1).usableCores() == 1)
        // A tighter leaf wins over a looser ancestor; the root counts too.
        try tree.setQuota("100000 100000", at: "kubepods/pod1/container")
        try tree.setQuota("800000 100000", at: "")
        #expect(tree.limit(affinity: 16).usableCores() == 1)
    }

    @Test("no quota anywhere, no cgroup v2 line, no files: the affinity mask alone")
    func noQuota() throws {
        let open = try FakeCgroupTree(leaf: "a/b", quotas: ["a": "max 100000"])
        defer { open.remove() }
        #expect(open.limit(affinity: 6).cgroupQuota() == nil)
        #expect(open.limit(affinity: 6).usableCores() == 6)
        // Only cgroup v1 listed: the mount root's own cpu.max (a container's namespace).
        let v1 = try FakeCgroupTree(leaf: nil, quotas: ["": "300000 100000"])
        defer { v1.remove() }
        #expect(v1.limit(affinity: 6).usableCores() == 3)
        let missing = CPULimit(procSelfCgroup: "/nonexistent/cgroup", cgroupRoot: "/nonexistent", affinityOverride: 5)
        #expect(missing.usableCores() == 5)
        #expect(ThreadPool.usableCoreCount >= 1)
    }

    @Test("followCPULimit resizes the pool when the limit changes, and only then")
    func following() throws {
        let tree = try FakeCgroupTree(leaf: "slice/service", quotas: ["slice": "200000 100000"])
        defer { tree.remove() }
        var configuration = ThreadPool.Configuration(threads: 1)
        configuration.followCPULimit = true
        configuration.cpuLimit = tree.limit(affinity: 4)
        configuration.cpuLimitCheckInterval = .seconds(3_600)  // checks below are explicit
        let pool = try ThreadPool(configuration: configuration)
        defer { pool.shutdown() }
        let watcher = try #require(pool.registry.cpuLimitWatcher)
        #expect(watcher.checkNow(registry: pool.registry) == 2)
        #expect(pool.threadCount == 2)
        try tree.setQuota("300000 100000", at: "slice")
        watcher.checkNow(registry: pool.registry)
        #expect(pool.threadCount == 3)
        // A resize of the user's own holds while the limit stays as it is.
        try pool.resize(threads: 1)
        #expect(watcher.checkNow(registry: pool.registry) == nil)
        #expect(pool.threadCount == 1)
        try tree.setQuota("max 100000", at: "slice")
        watcher.checkNow(registry: pool.registry)
        #expect(pool.threadCount == 4)  // the affinity mask
        // Work still runs, exactly once, across the changes.
        #expect((0..<100_000).parallel(on: pool).sum() == (0..<100_000).reduce(0, +))
    }

    @Test("the watcher thread applies a change on its own, and stops with the pool")
    func watcherThread() throws {
        let tree = try FakeCgroupTree(leaf: "slice", quotas: ["slice": "100000 100000"])
        defer { tree.remove() }
        var configuration = ThreadPool.Configuration(threads: 2)
        configuration.followCPULimit = true
        configuration.cpuLimit = tree.limit(affinity: 4)
        configuration.cpuLimitCheckInterval = .milliseconds(5)
        let pool = try ThreadPool(configuration: configuration)
        #expect(waitUntil { pool.threadCount == 1 })
        try tree.setQuota("300000 100000", at: "slice")
        #expect(waitUntil { pool.threadCount == 3 })
        pool.shutdown()
        #expect(pool.isShutDown)
    }
}
