// Renders the Mandelbrot set in parallel and writes it as a PGM image (any image viewer opens
// it; `convert mandelbrot.pgm mandelbrot.png` turns it into a PNG). Rows cost very different
// amounts of work (the set's interior is expensive): the adaptive split balances them with no
// chunk size to tune. Also times the same render sequentially.
//
//     swift run -c release mandelbrot [output.pgm] [width]
import Foundation
import Spindle

/// Escape-time iterations of one pixel (0...255).
func escapeTime(_ cr: Double, _ ci: Double) -> UInt8 {
    var zr = 0.0, zi = 0.0
    var i = 0
    while i < 255 && zr * zr + zi * zi <= 4 {
        (zr, zi) = (zr * zr - zi * zi + cr, 2 * zr * zi + ci)
        i += 1
    }
    return UInt8(i)
}

/// One row of the image.
func renderRow(_ y: Int, width: Int, height: Int) -> [UInt8] {
    let ci = -1.2 + 2.4 * Double(y) / Double(height)
    return (0..<width).map { x in 255 - escapeTime(-2.2 + 3.2 * Double(x) / Double(width), ci) }
}

@main
enum Mandelbrot {
    static func main() throws {
        let arguments = CommandLine.arguments
        let path = arguments.count > 1 ? arguments[1] : "mandelbrot.pgm"
        let width = arguments.count > 2 ? Int(arguments[2]) ?? 1_600 : 1_600
        let height = width * 3 / 4

        // Rendered twice, the second run timed: the first wakes the workers and warms the allocator.
        var rows: [[UInt8]] = []
        var parallelTime = 0.0
        for _ in 0..<2 {
            let t0 = Date()
            rows = (0..<height).parallel.map { renderRow($0, width: width, height: height) }.collect()
            parallelTime = Date().timeIntervalSince(t0)
        }

        let t1 = Date()
        let check = (0..<height).map { renderRow($0, width: width, height: height) }
        let sequentialTime = Date().timeIntervalSince(t1)
        precondition(check == rows, "the parallel render differs from the sequential one")

        var file = Data("P5\n\(width) \(height)\n255\n".utf8)
        for row in rows { file.append(contentsOf: row) }
        try file.write(to: URL(fileURLWithPath: path))
        print(
            "wrote \(path): \(width)×\(height); parallel \(String(format: "%.1f", parallelTime * 1000)) ms on "
                + "\(ThreadPool.shared.threadCount) threads, sequential \(String(format: "%.1f", sequentialTime * 1000)) ms")
    }
}
