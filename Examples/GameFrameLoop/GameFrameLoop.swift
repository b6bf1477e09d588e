// A game's frame loop on Spindle: every frame updates thousands of entities in parallel
// (foreground work: parallelUpdateEach, join), while assets load in the background (submit).
// The printout shows which thread ran what, and that frames never wait behind the loads:
// foreground work always runs before background work on every worker.
//
//     swift run -c release game-frame-loop
import Dispatch
import Foundation
import Spindle

struct Entity: Sendable {
    var x: Double, y: Double, vx: Double, vy: Double
}

/// Per-entity physics: a few hundred nanoseconds of arithmetic.
func step(_ e: inout Entity, dt: Double) {
    for _ in 0..<20 {
        e.vx += -e.x * 0.001 * dt
        e.vy += -e.y * 0.001 * dt
        e.x += e.vx * dt
        e.y += e.vy * dt
    }
}

/// "Decodes" an asset: a few milliseconds of CPU work in the background tier.
func decodeAsset(_ id: Int) -> Int {
    var h = UInt64(id) &+ 0x9E37_79B9_7F4A_7C15
    for _ in 0..<3_000_000 { h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9 }
    return Int(truncatingIfNeeded: h & 0xFFFF)
}

func seconds(_ start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

@main
enum GameFrameLoop {
    static func main() throws {
        let pool = try ThreadPool(configuration: .cpuBound)
        var entities = (0..<50_000).map { i in Entity(x: Double(i % 100), y: Double(i / 100), vx: 0, vy: 1) }

        // Queue twelve asset loads in the background tier.
        let loads = try (0..<12).map { id in
            try pool.submit { () -> (Int, Int?, Int) in (id, pool.currentThreadIndex, decodeAsset(id)) }
        }

        var worst = 0.0
        for frame in 0..<30 {
            let start = DispatchTime.now()
            // Foreground: physics for every entity, in place, split by the heartbeat.
            entities.parallelUpdateEach(on: pool) { step(&$0, dt: 1.0 / 60) }
            // Foreground: AI and audio mixing side by side.
            let snapshot = entities
            let (ai, audio) = pool.join(
                { snapshot.parallel(on: pool).count(where: { $0.x > 0 }) },
                { (0..<4_096).parallel(on: pool).map { sin(Double($0) * 0.01) }.sum() })
            let elapsed = seconds(start)
            worst = max(worst, elapsed)
            let done = loads.filter(\.isComplete).count
            if frame % 5 == 0 || frame == 29 {
                print(
                    "frame \(frame): \(String(format: "%.2f", elapsed * 1000)) ms, \(ai) entities ahead, "
                        + "audio \(String(format: "%.1f", audio)), assets loaded \(done)/12")
            }
        }
        for load in loads {
            let (id, thread, checksum) = try load.wait()
            print("asset \(id) decoded on worker \(thread.map(String.init) ?? "outside") (checksum \(checksum))")
        }
        let metrics = pool.metrics
        print(
            "worst frame \(String(format: "%.2f", worst * 1000)) ms; \(metrics.completedTasks) background tasks, "
                + "\(metrics.steals) steals, \(metrics.heartbeatPromotions) heartbeat promotions")
        pool.shutdown()
    }
}
