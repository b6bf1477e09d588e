import Foundation
import Spindle

/// Facts about the machine and toolchain, recorded with every result file.
struct RunInfo {
    let date: String
    let cpu: String
    let cores: Int
    let os: String
    let toolchain: String

    static func current() -> RunInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let cpu =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let os =
            osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { $0.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "unknown"
        let swiftVersion =
            run(["swift", "--version"]).output.split(separator: "\n")
            .first { $0.contains("Swift version") }.map(String.init) ?? "Swift (version unknown)"
        let formatter = ISO8601DateFormatter()
        return RunInfo(
            date: formatter.string(from: Date()), cpu: cpu, cores: ThreadPool.usableCoreCount,
            os: os, toolchain: swiftVersion)
    }
}

/// One row as JSON: the shape of `--json` results and of rayon-bench's output lines.
struct JSONRow: Codable {
    let workload: String
    let contender: String
    let threads: Int
    let median_seconds: Double
    let ratio_vs_sequential: Double?
    let note: String?

    init(_ row: Row) {
        workload = row.workload
        contender = row.contender
        threads = row.threads
        median_seconds = row.medianSeconds
        ratio_vs_sequential = row.ratio.isFinite ? row.ratio : nil
        note = row.note.isEmpty ? nil : row.note
    }

    var row: Row {
        Row(
            workload: workload, contender: contender, threads: threads, medianSeconds: median_seconds,
            ratio: ratio_vs_sequential ?? .nan, note: note ?? "")
    }
}

func writeJSON(_ rows: [Row], info: RunInfo, to path: String) throws {
    struct Machine: Encodable { let cpu: String; let cores: Int; let os: String }
    struct File: Encodable {
        let date: String
        let machine: Machine
        let toolchain: String
        let results: [JSONRow]
    }
    let file = File(
        date: info.date, machine: Machine(cpu: info.cpu, cores: info.cores, os: info.os),
        toolchain: info.toolchain, results: rows.map(JSONRow.init))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(file).write(to: URL(fileURLWithPath: path))
}

/// Grouped bars of the ratio to sequential per workload, on a log scale (1.0 is the sequential
/// line; below it is faster than sequential code).
func writeChart(_ rows: [Row], info: RunInfo, to path: String) throws {
    // Only ratios against sequential code (latency rows, "per call", compare with a peer: left out).
    let plotted = rows.filter {
        $0.ratio.isFinite && $0.ratio > 0 && !$0.contender.hasSuffix("sequential") && !$0.note.contains("per call")
    }
    var workloads: [String] = []
    for r in plotted where !workloads.contains(r.workload) { workloads.append(r.workload) }
    var contenders: [String] = []
    for r in plotted where !contenders.contains(r.contender) { contenders.append(r.contender) }
    let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf", "#393b79", "#e7ba52",
    ]
    let lo = min(0.25, plotted.map(\.ratio).min() ?? 1), hi = max(4, plotted.map(\.ratio).max() ?? 1)
    let (logLo, logHi) = (log10(lo) - 0.05, log10(hi) + 0.05)
    let width = max(900, 160 + workloads.count * (contenders.count * 16 + 24)), height = 460
    let plotTop = 50.0, plotBottom = 330.0, left = 70.0
    func y(_ ratio: Double) -> Double {
        plotBottom - (log10(ratio) - logLo) / (logHi - logLo) * (plotBottom - plotTop)
    }
    var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="20" font-size="14">spindle-bench: time relative to sequential code (log scale, lower is faster)</text>
        <text x="\(left)" y="36" fill="#555">\(info.date) — \(info.cpu), \(info.cores) cores — \(info.os) — \(info.toolchain)</text>

        """
    var tick = pow(10, floor(logLo))
    while tick <= pow(10, logHi) {
        for m in [1.0, 2.0, 5.0] where log10(tick * m) >= logLo && log10(tick * m) <= logHi {
            let yy = y(tick * m)
            svg += "<line x1=\"\(left)\" x2=\"\(width - 20)\" y1=\"\(yy)\" y2=\"\(yy)\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(tick * m)×</text>\n"
        }
        tick *= 10
    }
    let one = y(1)
    svg += "<line x1=\"\(left)\" x2=\"\(width - 20)\" y1=\"\(one)\" y2=\"\(one)\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n"
    for (w, workload) in workloads.enumerated() {
        let x0 = left + 12 + Double(w * (contenders.count * 16 + 24))
        for (c, contender) in contenders.enumerated() {
            guard let r = plotted.first(where: { $0.workload == workload && $0.contender == contender }) else { continue }
            let x = x0 + Double(c * 16)
            let top = min(y(r.ratio), one), bottom = max(y(r.ratio), one)
            svg +=
                "<rect x=\"\(x)\" y=\"\(top)\" width=\"14\" height=\"\(max(1, bottom - top))\" fill=\"\(palette[c % palette.count])\"><title>\(workload) \(contender): \(String(format: "%.3f", r.ratio))×</title></rect>\n"
        }
        let labelX = x0 + Double(contenders.count * 16) / 2
        svg +=
            "<text x=\"\(labelX)\" y=\"\(plotBottom + 14)\" text-anchor=\"end\" transform=\"rotate(-35 \(labelX) \(plotBottom + 14))\">\(workload)</text>\n"
    }
    for (c, contender) in contenders.enumerated() {
        let x = left + Double((c % 6) * 140), yy = Double(height - 30 + (c / 6) * 16)
        svg += "<rect x=\"\(x)\" y=\"\(yy - 10)\" width=\"12\" height=\"12\" fill=\"\(palette[c % palette.count])\"/>"
        svg += "<text x=\"\(x + 16)\" y=\"\(yy)\">\(contender)</text>\n"
    }
    svg += "</svg>\n"
    try svg.write(toFile: path, atomically: true, encoding: .utf8)
}
