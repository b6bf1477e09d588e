// Counts word frequencies of a generated text in parallel: the text is cut into chunks, each
// chunk is counted into its own dictionary in parallel (`map` + `collect`), and the few
// per-chunk dictionaries are merged in place. Checks the result against a sequential count.
// (Merging with `reduce` would copy the growing dictionary at every step: a combine that
// returns a new value suits small results, not large ones.)
//
//     swift run -c release word-frequency [megabytes]
import Foundation
import Spindle

/// A deterministic text of roughly `bytes` bytes over a skewed vocabulary (a few words are
/// very common, most are rare), as separate lines.
///
/// Separate `String`s, and `String` keys below, on purpose: substrings of one big string share
/// its storage, and threads retaining and releasing that one object contend on its reference
/// count — enough to make the parallel count slower than the sequential one.
func generateText(bytes: Int) -> [String] {
    let vocabulary = (0..<5_000).map { "w\(String($0, radix: 36))" }
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    var lines: [String] = []
    var line = ""
    var total = 0
    while total < bytes {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        let u = Double(state % 1_000_000) / 1_000_000
        line += vocabulary[Int(u * u * u * Double(vocabulary.count))]
        if state % 12 == 0 {
            total += line.utf8.count + 1
            lines.append(line)
            line = ""
        } else {
            line += " "
        }
    }
    return lines
}

func countWords(_ lines: ArraySlice<String>) -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in lines {
        for word in line.utf8.split(separator: UInt8(ascii: " ")) {
            counts[String(decoding: word, as: UTF8.self), default: 0] += 1  // a small, inline string
        }
    }
    return counts
}

func merge(_ part: [String: Int], into total: inout [String: Int]) {
    for (word, n) in part { total[word, default: 0] += n }
}

@main
enum WordFrequency {
    static func main() {
        let megabytes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 16 : 16
        let lines = generateText(bytes: megabytes << 20)
        let chunkSize = 20_000
        let chunks = stride(from: 0, to: lines.count, by: chunkSize).map { lines[$0..<min($0 + chunkSize, lines.count)] }

        // Each way twice, the second run timed: the first pays for warming the allocator.
        var counts: [String: Int] = [:]
        var sequential: [String: Int] = [:]
        var parallelTime = 0.0, sequentialTime = 0.0
        for _ in 0..<2 {
            let t1 = Date()
            sequential = countWords(lines[...])
            sequentialTime = Date().timeIntervalSince(t1)

            let t0 = Date()
            counts = [:]
            for part in chunks.parallel.map(countWords).collect() { merge(part, into: &counts) }
            parallelTime = Date().timeIntervalSince(t0)
        }
        precondition(counts == sequential, "parallel and sequential counts differ")

        let top = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(10)
        print("\(megabytes) MiB, \(lines.count) lines, \(counts.count) distinct words; top 10:")
        for (word, n) in top { print("  \(word)\t\(n)") }
        print(
            "parallel \(String(format: "%.1f", parallelTime * 1000)) ms on \(ThreadPool.shared.threadCount) threads, "
                + "sequential \(String(format: "%.1f", sequentialTime * 1000)) ms")
    }
}
