// The pool as a `TaskExecutor` for an async service: each request is handled by a task that
// prefers the pool, so its CPU-bound parts run on the pool's workers (not on the cooperative
// pool that serves other async work), while it still awaits like any task. Metrics are
// sampled with `metrics(every:)` while the load runs.
//
//     swift run -c release executor-service [requests]
import Foundation
import Spindle

struct Request: Sendable { let id: Int; let size: Int }
struct Response: Sendable { let id: Int; let digest: Int; let worker: Int? }

/// A request handler: async (it awaits a fake cache lookup), with a CPU-heavy middle part.
func handle(_ request: Request, pool: ThreadPool) async throws -> Response {
    try await Task.sleep(for: .microseconds(200))  // a cache lookup
    let worker = pool.currentThreadIndex  // the task runs on a pool worker
    let digest = (0..<request.size).parallel(on: pool).map { ($0 &* 2_654_435_761) & 0xFFFF }.sum()
    return Response(id: request.id, digest: digest, worker: worker)
}

@main
enum ExecutorService {
    static func main() async throws {
        let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 5_000 : 5_000
        let pool = try ThreadPool(configuration: .cpuBound)
        let monitor = Task {
            for await m in pool.metrics(every: .milliseconds(20)) {
                print(
                    "  utilisation \(String(format: "%.0f%%", m.utilization * 100)), busy \(m.busyThreads)/\(m.threadCount), "
                        + "queued background \(m.queuedBackgroundJobs)")
            }
        }
        let started = Date()
        let responses = try await withThrowingTaskGroup(of: Response.self) { group in
            for id in 0..<count {
                group.addTask(executorPreference: pool) {
                    try await handle(Request(id: id, size: 20_000 + id % 1_000), pool: pool)
                }
            }
            var all: [Response] = []
            for try await response in group { all.append(response) }
            return all
        }
        monitor.cancel()
        let onPool = responses.filter { $0.worker != nil }.count
        print(
            "\(responses.count) requests in \(String(format: "%.0f", Date().timeIntervalSince(started) * 1000)) ms; "
                + "\(onPool) handled on pool workers; \(pool.metrics.executorJobs) task jobs ran on the pool")
        let clean = await pool.shutdown(gracePeriod: .seconds(5))
        print("graceful shutdown: \(clean)")
    }
}
