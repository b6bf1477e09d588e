// Instruction counts of the join fast path against its sequential twin, under callgrind.
//
// `spindle-bench --instructions` runs this executable once per probe under
// `valgrind --tool=callgrind --toggle-collect='*probeXxx*'`, so that only instructions executed
// inside the probe function (and what it calls) are counted: thread start-up, tree building and
// the pool's other threads are left out. Instruction counts are repeatable where wall time is
// not, so every change to the fast path can be measured without noise.
//
// Each join probe runs on the worker of a one-thread pool with no second participant: the
// calling thread polls `isComplete` instead of calling `wait()` (which would make it a
// participant that could be hungry), so no heartbeat fires and every join takes the path a join
// takes when every worker is busy.
import Foundation
import Spindle

/// One probe: a workload's sequential twin and its join version.
struct InstructionProbe {
    let name: String
    /// Joins one run of the join version executes (for "extra instructions per join").
    let joins: Int
    let sequentialFunction: String
    let joinFunction: String
}

let instructionProbes: [InstructionProbe] = [
    InstructionProbe(
        name: "tree-16-indexed", joins: (1 << 16) - 1,
        sequentialFunction: "probeIndexTreeSequential", joinFunction: "probeIndexTreeJoin"),
    // fib(22) makes fib(23) - 1 = 28,656 calls with n >= 2, each one join.
    InstructionProbe(
        name: "fib-22", joins: 28_656,
        sequentialFunction: "probeFibSequential", joinFunction: "probeFibJoin"),
    InstructionProbe(
        name: "join-3way-leaves", joins: 10_000,
        sequentialFunction: "probeThreeLeavesSequential", joinFunction: "probeThreeLeavesJoin"),
    InstructionProbe(
        name: "spindle-join-free", joins: (1 << 16) - 1,
        sequentialFunction: "probeIndexTreeSequential", joinFunction: "probeIndexTreeFreeJoin"),
    // Pipelines: "extra per join" is then extra instructions per element.
    InstructionProbe(
        name: "map-reduce-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeMapReduceSequential", joinFunction: "probeMapReduceParallel"),
    // The same pipeline's loop called straight from the caller (no terminal, no splitter): what
    // the per-element code costs when the closures are visible to the optimiser (issue 13).
    InstructionProbe(
        name: "map-reduce-drive", joins: pipelineProbeCount,
        sequentialFunction: "probeMapReduceSequential", joinFunction: "probeMapReduceInlineDrive"),
    // The same pipeline folded as one first-come item: the code a thief runs on a piece it
    // took, where the fold is a stored closure and `map`'s closure an indirect call per element.
    InstructionProbe(
        name: "map-reduce-as-thief", joins: pipelineProbeCount,
        sequentialFunction: "probeMapReduceSequential", joinFunction: "probeMapReduceStoredFold"),
    // The same path for terminals whose thief runs a range loop (RangeLoop.swift): `sum`,
    // indexed `collect`, `min`; their closures are all constants of the loop.
    InstructionProbe(
        name: "map-sum-as-thief", joins: pipelineProbeCount,
        sequentialFunction: "probeMapSumSequential", joinFunction: "probeMapSumStoredFold"),
    InstructionProbe(
        name: "map-collect-as-thief", joins: pipelineProbeCount,
        sequentialFunction: "probeMapCollectSequential", joinFunction: "probeMapCollectStoredFold"),
    InstructionProbe(
        name: "map-min-as-thief", joins: pipelineProbeCount,
        sequentialFunction: "probeMapMinSequential", joinFunction: "probeMapMinStoredFold"),
    // Small loops whose closure captures a value (no range loop can specialise): what a
    // terminal call costs around its elements, 1,000 calls of 100 elements.
    InstructionProbe(
        name: "map-sum-captured-100", joins: pipelineProbeCount,
        sequentialFunction: "probeMapSumCapturedSequential", joinFunction: "probeMapSumCapturedParallel"),
    // The collect of a pipeline that drops elements (pieces appended, then joined).
    InstructionProbe(
        name: "filter-collect-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeFilterCollectSequential", joinFunction: "probeFilterCollectParallel"),
    InstructionProbe(
        name: "map-collect-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeMapCollectSequential", joinFunction: "probeMapCollectParallel"),
    InstructionProbe(
        name: "filter-count-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeFilterCountSequential", joinFunction: "probeFilterCountParallel"),
    InstructionProbe(
        name: "map-min-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeMapMinSequential", joinFunction: "probeMapMinParallel"),
    InstructionProbe(
        name: "zip-reduce-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeZipReduceSequential", joinFunction: "probeZipReduceParallel"),
    // The same product through `enumerated()` and an index into the second array.
    InstructionProbe(
        name: "zip-by-offset-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeZipReduceSequential", joinFunction: "probeZipByOffsetParallel"),
    InstructionProbe(
        name: "enumerated-reduce-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeEnumeratedReduceSequential", joinFunction: "probeEnumeratedReduceParallel"),
    // Three stages with a closure each, then a fourth in reduce.
    InstructionProbe(
        name: "chain-3-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeChainSequential", joinFunction: "probeChainParallel"),
    InstructionProbe(
        name: "sum-1e5", joins: pipelineProbeCount,
        sequentialFunction: "probeSumSequential", joinFunction: "probeSumParallel"),
]

let pipelineProbeCount = 100_000

@inline(never)
func probeMapReduceSequential(_ input: [Int]) -> Int { input.reduce(0) { $0 &+ $1 &* 3 } }

@inline(never)
func probeMapReduceParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).map { $0 &* 3 }.reduce(0) { $0 &+ $1 }
}

@inline(never)
func probeMapReduceStoredFold(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).split(.chunks(of: input.count)).map { $0 &* 3 }.reduce(0) { $0 &+ $1 }
}

@inline(never)
func probeMapSumSequential(_ input: [Int]) -> Int { input.reduce(0) { $0 + $1 &* 3 } }

/// `sum` traps on overflow, as its sequential twin's `+` does.
@inline(never)
func probeMapSumStoredFold(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).split(.chunks(of: input.count)).map { $0 &* 3 }.sum()
}

@inline(never)
func probeMapCollectStoredFold(_ input: [Int], _ pool: ThreadPool) -> [Int] {
    input.parallel(on: pool).split(.chunks(of: input.count)).map { $0 &* 3 }.collect()
}

@inline(never)
func probeMapMinStoredFold(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).split(.chunks(of: input.count)).map { $0 ^ 0x5555 }.min() ?? 0
}

@inline(never)
func probeMapSumCapturedSequential(_ input: [Int], _ factor: Int) -> Int {
    var total = 0
    for start in stride(from: 0, to: input.count, by: 100) {
        total &+= input[start..<(start + 100)].reduce(0) { $0 + $1 &* factor }
    }
    return total
}

@inline(never)
func probeMapSumCapturedParallel(_ input: [Int], _ factor: Int, _ pool: ThreadPool) -> Int {
    var total = 0
    for start in stride(from: 0, to: input.count, by: 100) {
        total &+= input[start..<(start + 100)].parallel(on: pool).map { $0 &* factor }.sum()
    }
    return total
}

@inline(never)
func probeFilterCollectSequential(_ input: [Int]) -> [Int] { input.filter { $0 % 3 == 0 } }

@inline(never)
func probeFilterCollectParallel(_ input: [Int], _ pool: ThreadPool) -> [Int] {
    input.parallel(on: pool).filter { $0 % 3 == 0 }.collect()
}

@inline(never)
func probeMapCollectSequential(_ input: [Int]) -> [Int] { input.map { $0 &* 3 } }

@inline(never)
func probeMapCollectParallel(_ input: [Int], _ pool: ThreadPool) -> [Int] {
    input.parallel(on: pool).map { $0 &* 3 }.collect()
}

@inline(never)
func probeFilterCountSequential(_ input: [Int]) -> Int { input.reduce(0) { $1 % 3 == 0 ? $0 &+ 1 : $0 } }

@inline(never)
func probeFilterCountParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).filter { $0 % 3 == 0 }.count()
}

@inline(never)
func probeIndexTreeSequential(_ tree: IndexTree) -> Int { tree.sumSequential(0) }

@inline(never)
func probeIndexTreeJoin(_ tree: IndexTree, _ pool: ThreadPool) -> Int { tree.sumJoin(0, pool) }

@inline(never)
func probeIndexTreeFreeJoin(_ tree: IndexTree) -> Int { tree.sumFreeJoin(0) }

@inline(never)
func probeFibSequential(_ n: Int) -> Int { fibSequential(n) }

@inline(never)
func probeFibJoin(_ n: Int, _ pool: ThreadPool) -> Int { fibJoin(n, pool) }

@inline(never)
func probeThreeLeavesSequential(_ count: Int) -> Int {
    var total = 0
    for i in 0..<count { total &+= leafValue(i) &+ leafValue(i &+ 1) &+ leafValue(i &+ 2) }
    return total
}

@inline(never)
func probeThreeLeavesJoin(_ count: Int, _ pool: ThreadPool) -> Int {
    var total = 0
    for i in 0..<count {
        let (x, y, z) = pool.join({ leafValue(i) }, { leafValue(i &+ 1) }, { leafValue(i &+ 2) })
        total &+= x &+ y &+ z
    }
    return total
}

@inline(never)
func leafValue(_ i: Int) -> Int { i &* 2_654_435_761 }

@inline(never)
func probeMapMinSequential(_ input: [Int]) -> Int { input.lazy.map { $0 ^ 0x5555 }.min() ?? 0 }

@inline(never)
func probeMapMinParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).map { $0 ^ 0x5555 }.min() ?? 0
}

@inline(never)
func probeZipReduceSequential(_ input: [Int]) -> Int { zip(input, input).reduce(0) { $0 + $1.0 * $1.1 } }

@inline(never)
func probeZipReduceParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).zip(input.parallel).map { $0 * $1 }.reduce(0, +)
}

@inline(never)
func probeZipByOffsetParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    let other = input
    return input.parallel(on: pool).enumerated().map { $0.element * other[$0.offset] }.reduce(0, +)
}

@inline(never)
func probeEnumeratedReduceSequential(_ input: [Int]) -> Int {
    input.enumerated().reduce(0) { $0 &+ $1.offset &* $1.element }
}

@inline(never)
func probeEnumeratedReduceParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).enumerated().map { $0.offset &* $0.element }.reduce(0) { $0 &+ $1 }
}

@inline(never)
func probeChainSequential(_ input: [Int]) -> Int {
    input.lazy.map { $0 &* 3 }.filter { $0 & 2 == 0 }.map { $0 &+ 1 }.reduce(0) { $0 &+ $1 }
}

@inline(never)
func probeChainParallel(_ input: [Int], _ pool: ThreadPool) -> Int {
    input.parallel(on: pool).map { $0 &* 3 }.filter { $0 & 2 == 0 }.map { $0 &+ 1 }.reduce(0) { $0 &+ $1 }
}

@inline(never)
func probeSumSequential(_ input: [Int]) -> Int { input.reduce(0, +) }

@inline(never)
func probeSumParallel(_ input: [Int], _ pool: ThreadPool) -> Int { input.parallel(on: pool).sum() }

/// `spindle-bench --probe-run NAME VARIANT`: one probe function, once (what callgrind counts).
func runInstructionProbe(name: String, variant: String) throws -> Int {
    let pool = try ThreadPool(threads: 1)
    defer { pool.shutdown() }
    let tree = IndexTree(depth: 16)
    defer { tree.deallocate() }
    let input = Array(0..<pipelineProbeCount)
    let factor = 3 + ProcessInfo.processInfo.arguments.count % 2  // not a constant the optimiser sees
    let body: @Sendable () -> Int
    switch (name, variant) {
    case ("tree-16-indexed", "sequential"), ("spindle-join-free", "sequential"):
        body = { probeIndexTreeSequential(tree) }
    case ("tree-16-indexed", "join"): body = { probeIndexTreeJoin(tree, pool) }
    case ("spindle-join-free", "join"): body = { probeIndexTreeFreeJoin(tree) }
    case ("fib-22", "sequential"): body = { probeFibSequential(22) }
    case ("fib-22", "join"): body = { probeFibJoin(22, pool) }
    case ("join-3way-leaves", "sequential"): body = { probeThreeLeavesSequential(10_000) }
    case ("join-3way-leaves", "join"): body = { probeThreeLeavesJoin(10_000, pool) }
    case ("map-reduce-1e5", "sequential"), ("map-reduce-drive", "sequential"):
        body = { probeMapReduceSequential(input) }
    case ("map-reduce-1e5", "join"): body = { probeMapReduceParallel(input, pool) }
    case ("map-reduce-drive", "join"): body = { probeMapReduceInlineDrive(input) }
    case ("map-reduce-as-thief", "sequential"): body = { probeMapReduceSequential(input) }
    case ("map-reduce-as-thief", "join"): body = { probeMapReduceStoredFold(input, pool) }
    case ("map-sum-as-thief", "sequential"): body = { probeMapSumSequential(input) }
    case ("map-sum-as-thief", "join"): body = { probeMapSumStoredFold(input, pool) }
    case ("map-collect-as-thief", "sequential"): body = { probeMapCollectSequential(input).count }
    case ("map-collect-as-thief", "join"): body = { probeMapCollectStoredFold(input, pool).count }
    case ("map-min-as-thief", "sequential"): body = { probeMapMinSequential(input) }
    case ("map-min-as-thief", "join"): body = { probeMapMinStoredFold(input, pool) }
    case ("map-sum-captured-100", "sequential"): body = { probeMapSumCapturedSequential(input, factor) }
    case ("map-sum-captured-100", "join"): body = { probeMapSumCapturedParallel(input, factor, pool) }
    case ("filter-collect-1e5", "sequential"): body = { probeFilterCollectSequential(input).count }
    case ("filter-collect-1e5", "join"): body = { probeFilterCollectParallel(input, pool).count }
    case ("map-collect-1e5", "sequential"): body = { probeMapCollectSequential(input).count }
    case ("map-collect-1e5", "join"): body = { probeMapCollectParallel(input, pool).count }
    case ("filter-count-1e5", "sequential"): body = { probeFilterCountSequential(input) }
    case ("filter-count-1e5", "join"): body = { probeFilterCountParallel(input, pool) }
    case ("map-min-1e5", "sequential"): body = { probeMapMinSequential(input) }
    case ("map-min-1e5", "join"): body = { probeMapMinParallel(input, pool) }
    case ("zip-reduce-1e5", "sequential"): body = { probeZipReduceSequential(input) }
    case ("zip-reduce-1e5", "join"): body = { probeZipReduceParallel(input, pool) }
    case ("zip-by-offset-1e5", "sequential"): body = { probeZipReduceSequential(input) }
    case ("zip-by-offset-1e5", "join"): body = { probeZipByOffsetParallel(input, pool) }
    case ("enumerated-reduce-1e5", "sequential"): body = { probeEnumeratedReduceSequential(input) }
    case ("enumerated-reduce-1e5", "join"): body = { probeEnumeratedReduceParallel(input, pool) }
    case ("chain-3-1e5", "sequential"): body = { probeChainSequential(input) }
    case ("chain-3-1e5", "join"): body = { probeChainParallel(input, pool) }
    case ("sum-1e5", "sequential"): body = { probeSumSequential(input) }
    case ("sum-1e5", "join"): body = { probeSumParallel(input, pool) }
    default: throw ProbeError(message: "unknown probe \(name) \(variant)")
    }
    // On the pool's only worker; this thread polls and never becomes a participant.
    let handle = try pool.submit(body)
    while !handle.isComplete { usleep(1_000) }
    return try handle.wait()
}

struct ProbeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// `spindle-bench --instructions`: every probe under callgrind, a table of the counts.
func runInstructionProbes() throws {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    print("callgrind instruction counts inside the workload function (one thread, on a worker of a")
    print("one-thread pool, no second participant); ratio = join version / sequential twin\n")
    print(
        "probe".padding(toLength: 20, withPad: " ", startingAt: 0)
            + "sequential".padding(toLength: 14, withPad: " ", startingAt: 0)
            + "join".padding(toLength: 14, withPad: " ", startingAt: 0)
            + "ratio".padding(toLength: 9, withPad: " ", startingAt: 0) + "extra per join")
    for probe in instructionProbes where filter.map({ probe.name.contains($0) }) ?? true {
        let sequential = try callgrindCount(
            executable: executable, probe: probe, variant: "sequential",
            function: probe.sequentialFunction)
        let join = try callgrindCount(
            executable: executable, probe: probe, variant: "join",
            function: probe.joinFunction)
        let extra = Double(join - sequential) / Double(probe.joins)
        print(
            probe.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(sequential).padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(join).padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: "%.2f×", Double(join) / Double(sequential)).padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: "%.1f", extra))
    }
}

/// Runs one probe under callgrind and returns the instructions it counted.
func callgrindCount(executable: String, probe: InstructionProbe, variant: String, function: String) throws -> Int {
    let output = FileManager.default.temporaryDirectory
        .appendingPathComponent("spindle-callgrind-\(getpid())-\(probe.name)-\(variant).out").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=\(output)",
        "--toggle-collect=*\(function)*", executable, "--probe-run", probe.name, variant,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0, let text = try? String(contentsOfFile: output, encoding: .utf8) else {
        throw ProbeError(
            message:
                "valgrind failed for \(probe.name) \(variant) (exit \(process.terminationStatus)); is valgrind installed? (apt-get install valgrind)"
        )
    }
    for line in text.split(separator: "\n") where line.hasPrefix("summary:") || line.hasPrefix("totals:") {
        if let count = Int(line.split(separator: " ").last ?? "") { return count }
    }
    throw ProbeError(message: "no summary line in \(output)")
}

/// A sum sink of the bench's own (the terminals' sinks are internal to Spindle).
struct ProbeSumSink: _ParallelSink {
    var total = 0
    mutating func consume(_ position: Int, _ element: Int) -> Bool {
        total &+= element
        return true
    }
}

@inline(never)
func probeMapReduceInlineDrive(_ input: [Int]) -> Int {
    var sink = ProbeSumSink()
    _ = input.parallel.map { $0 &* 3 }._drive(0..<input.count, into: &sink)
    return sink.total
}
