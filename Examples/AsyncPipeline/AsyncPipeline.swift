// An async extract → transform → load pipeline: records are fetched with bounded concurrency
// (simulated I/O: a suspension, no thread blocked), transformed on the pool (CPU work off the
// cooperative pool with `run`), and loaded into an actor-backed sink. `maxPending` bounds how
// much CPU work may wait; `run` suspends at the bound instead of failing.
//
//     swift run -c release async-pipeline [records]
import Foundation
import Spindle

struct RawRecord: Sendable { let id: Int; let payload: [UInt8] }
struct Row: Sendable { let id: Int; let checksum: UInt64 }

/// Extract: a fake network fetch (2 ms of waiting, no CPU).
func fetch(_ id: Int) async throws -> RawRecord {
    try await Task.sleep(for: .milliseconds(2))
    return RawRecord(id: id, payload: (0..<4_096).map { UInt8(truncatingIfNeeded: $0 &* (id | 1)) })
}

/// Transform: CPU-heavy hashing of the payload (runs on a pool worker).
func transform(_ record: RawRecord) -> Row {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for _ in 0..<64 {
        for byte in record.payload { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
    }
    return Row(id: record.id, checksum: h)
}

/// Load: an actor standing in for a database.
actor Sink {
    private(set) var rows: [Int: UInt64] = [:]
    func insert(_ row: Row) { rows[row.id] = row.checksum }
}

@main
enum AsyncPipeline {
    static func main() async throws {
        let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 400 : 400
        let pool = try ThreadPool(configuration: .init(maxPending: 64))
        let sink = Sink()
        let started = Date()
        try await pool.forEach(0..<count, maxConcurrent: 32) { id in
            let record = try await fetch(id)  // extract: up to 32 in flight
            let row = try await pool.run { transform(record) }  // transform: on the pool
            await sink.insert(row)  // load
        }
        let elapsed = Date().timeIntervalSince(started)
        let rows = await sink.rows
        precondition(rows.count == count, "lost records")
        let m = pool.metrics
        print(
            "\(count) records in \(String(format: "%.0f", elapsed * 1000)) ms: \(m.completedTasks) transforms on "
                + "\(m.threadCount) workers, \(m.executorJobs) async jobs on the pool, success rate \(m.successRate)")
        let clean = await pool.shutdown(gracePeriod: .seconds(5))
        print("graceful shutdown: \(clean ? "everything finished" : "work was cancelled")")
    }
}
