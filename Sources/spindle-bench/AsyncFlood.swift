import Dispatch
import Foundation
import Spindle
import Synchronization

// Async task floods, in the shape async-pool libraries report: many tasks that each sleep, time
// and peak memory side by side (each contender in a fresh child process, since a process's peak
// resident memory only grows), and the throughput of trivial async tasks.

/// A counter tasks on any thread bump.
final class TaskCounter: Sendable {
    private let count = Atomic<Int>(0)
    func bump() { count.add(1, ordering: .relaxed) }  // a count; read after the tasks ended
    func reset() { count.store(0, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// The contenders of the sleeping flood.
let floodContenders = ["spindle-scope", "taskgroup", "unbounded-task"]

/// Resident memory of this process: (now, peak), in KiB, from /proc/self/status.
func residentKiB() -> (current: Int, peak: Int) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

/// `spindle-bench --flood-child CONTENDER N`: runs one sleeping flood, prints
/// "seconds peakGrowthKiB completed".
func runFloodChild(contender: String, count: Int, threads: Int) -> Never {
    let pool = try! ThreadPool(configuration: .init(threads: threads, maxPending: 10_000))
    let completed = TaskCounter()
    let nap = Duration.milliseconds(10)
    let baseline = residentKiB().current
    let t0 = now()
    switch contender {
    case "spindle-scope":
        blockingAwait {
            try! await pool.withTaskScope { scope in
                for _ in 0..<count {
                    try await scope.spawn {
                        try await Task.sleep(for: nap)
                        completed.bump()
                    }
                }
            }
        }
    case "taskgroup":
        blockingAwait {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        try? await Task.sleep(for: nap)
                        completed.bump()
                    }
                }
            }
        }
    default:
        blockingAwait {
            let tasks = (0..<count).map { _ in
                Task {
                    try? await Task.sleep(for: nap)
                    completed.bump()
                }
            }
            for task in tasks { await task.value }
        }
    }
    let seconds = now() - t0
    print("\(seconds) \(residentKiB().peak - baseline) \(completed.value)")
    exit(0)
}

/// Rows for the sleeping floods of `counts` tasks: time ratio against `taskgroup`, peak memory in
/// the note. Each measurement is a fresh child process; contenders alternate.
func sleepingFloodRows(counts: [Int], threads: Int, repetitions: Int) -> [Row] {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    var rows: [Row] = []
    for count in counts {
        var seconds = [[Double]](repeating: [], count: floodContenders.count)
        var peaks = [[Double]](repeating: [], count: floodContenders.count)
        var wrong = [Bool](repeating: false, count: floodContenders.count)
        for _ in 0..<repetitions {
            for (i, contender) in floodContenders.enumerated() {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["--flood-child", contender, String(count), "--threads", String(threads)]
                let output = Pipe()
                process.standardOutput = output
                try! process.run()
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let fields = String(decoding: data, as: UTF8.self).split(separator: " ").map {
                    Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                }
                guard fields.count == 3 else { wrong[i] = true; continue }
                seconds[i].append(fields[0])
                peaks[i].append(fields[1])
                if Int(fields[2]) != count { wrong[i] = true }
            }
        }
        let baseline = median(seconds[1])
        for (i, contender) in floodContenders.enumerated() {
            let peakMiB = median(peaks[i]) / 1024
            let note =
                (wrong[i] ? "WRONG RESULT (not every task completed) " : "")
                + String(format: "peak RSS +%.1f MiB; ", peakMiB)
                + (contender == "spindle-scope" ? "maxPending 10000; " : "unbounded; ")
                + "\(count) tasks x 10 ms sleep; ratio vs taskgroup"
            rows.append(
                Row(
                    workload: "async-sleep-\(count)", contender: contender, threads: threads,
                    medianSeconds: median(seconds[i]), ratio: median(seconds[i]) / baseline, note: note))
        }
    }
    return rows
}

/// Throughput of `count` trivial async tasks, per task: a task scope on the pool and
/// `spawnAwaitingCapacity` of async closures (both under maxPending 10,000), and a discarding
/// task group whose children prefer the pool, against a discarding task group on Swift's global
/// executor.
func trivialAsyncRows(count: Int, threads: Int, repetitions: Int) -> [Row] {
    let pool = try! ThreadPool(configuration: .init(threads: threads, maxPending: 10_000))
    let counter = TaskCounter()
    let contenders: [(String, () -> Void)] = [
        (
            "global-executor",
            {
                blockingAwait {
                    await withDiscardingTaskGroup { group in
                        for _ in 0..<count { group.addTask { counter.bump() } }
                    }
                }
            }
        ),
        (
            "spindle-scope",
            {
                blockingAwait {
                    try! await pool.withTaskScope { scope in
                        for _ in 0..<count { try await scope.spawn { counter.bump() } }
                    }
                }
            }
        ),
        (
            "spindle-spawn",
            {
                blockingAwait {
                    for _ in 0..<count { try! await pool.spawnAwaitingCapacity { () async in counter.bump() } }
                    while counter.value < count { await Task.yield() }
                }
            }
        ),
        (
            "spindle-taskgroup",
            {
                blockingAwait {
                    await withDiscardingTaskGroup { group in
                        for _ in 0..<count {
                            group.addTask(executorPreference: pool) { counter.bump() }
                        }
                    }
                }
            }
        ),
    ]
    var samples = [[Double]](repeating: [], count: contenders.count)
    var wrong = [Bool](repeating: false, count: contenders.count)
    for round in 0...repetitions {
        for (i, contender) in contenders.enumerated() {
            counter.reset()
            let t0 = now()
            contender.1()
            let t = now() - t0
            if counter.value != count { wrong[i] = true }
            if round > 0 { samples[i].append(t / Double(count)) }
        }
    }
    pool.shutdown()
    let baseline = median(samples[0])
    return contenders.enumerated().map { i, contender in
        Row(
            workload: "async-trivial-\(count)", contender: contender.0, threads: threads,
            medianSeconds: median(samples[i]), ratio: median(samples[i]) / baseline,
            note: (wrong[i] ? "WRONG RESULT " : "") + "per task; ratio vs the global executor's discarding task group")
    }
}
