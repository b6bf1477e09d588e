// spindle-bench: Spindle side by side with the code a Swift user would otherwise write, and with
// rayon. Every figure is a ratio measured in this one run, contenders alternating, median of rounds.
import Dispatch
import Foundation
@_spi(SchedulerCounters) import Spindle
import Synchronization

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let quick = arguments.contains("--quick")
let threads = Int(option("--threads") ?? "") ?? ThreadPool.usableCoreCount
let filter = option("--filter")
let repetitions = Int(option("--repetitions") ?? "") ?? (quick ? 5 : 9)

if arguments.contains("--help") {
    print(
        """
        usage: spindle-bench [--quick] [--threads N] [--filter WORKLOAD[,WORKLOAD…]] [--repetitions N]
                             [--json PATH] [--chart PATH] [--no-rayon] [--pin] [--counters]
                             [--heartbeat-us N] [--spin N]
               spindle-bench --instructions [--filter PROBE]  (callgrind counts of the join fast path vs sequential)
               spindle-bench --probe-joins N   (N joins on one thread, for allocation counts under valgrind)
               spindle-bench --trace PATH      (Chrome trace-event JSON of a short mixed workload)
        """)
    exit(0)
}

// One sleeping async flood in a fresh process (its peak memory is its own).
if let i = arguments.firstIndex(of: "--flood-child"), i + 2 < arguments.count {
    runFloodChild(contender: arguments[i + 1], count: Int(arguments[i + 2]) ?? 0, threads: threads)
}

// Instruction probes: callgrind counts of the join fast path against its sequential twin.
if arguments.contains("--instructions") {
    try runInstructionProbes()
    exit(0)
}
if let i = arguments.firstIndex(of: "--probe-run"), i + 2 < arguments.count {
    print("checksum \(try runInstructionProbe(name: arguments[i + 1], variant: arguments[i + 2]))")
    exit(0)
}

// Allocation probe: run it under `valgrind` with two values of N; the difference in
// "total heap usage" divided by the difference in joins is the allocations per join.
if let probe = option("--probe-joins").flatMap(Int.init) {
    let pool = try ThreadPool(threads: 1)
    let tree = IndexTree(depth: 16)
    let traversals = max(1, probe / 65_535)
    let total = onWorker(pool) {
        var total = 0
        for _ in 0..<traversals { total &+= tree.sumJoin(0, pool) }
        return total
    }
    print("joins: \(traversals * 65_535), checksum \(total)")
    exit(0)
}

// Trace: run a short mixed workload on a tracing pool and write its Chrome trace-event JSON
// (open it in Perfetto or chrome://tracing; scripts/trace-to-svg.py draws it as an SVG timeline).
if let tracePath = option("--trace") {
    let tracingPool = try ThreadPool(configuration: .init(threads: threads, tracing: true))
    let input = randomInts(1_000_000)
    let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: input.count)
    _ = buffer.initialize(from: input)
    let sortable = SortBuffer(base: buffer)
    let sorted = onWorker(tracingPool) {
        quicksortJoin(sortable, 0, input.count, tracingPool); return checksum(sortable.base)
    }
    buffer.deallocate()
    let primes = (0..<400_000).parallel(on: tracingPool).count(where: isPrimeByTrialDivision)
    let counters = PaddedCounters()
    tracingPool.scope { s in for _ in 0..<20_000 { s.spawn { counters.bump(ThreadPool.currentThreadIndex ?? 63) } } }
    let handles = (0..<200).map { i in try! tracingPool.submit { fibSequential(18) + i } }
    let tasks = handles.reduce(0) { $0 + (try! $1.wait()) }
    tracingPool.shutdown()
    let json = tracingPool.chromeTrace() ?? "{}"
    try json.write(toFile: tracePath, atomically: true, encoding: .utf8)
    print(
        "trace of quicksort 10^6 (join), primes below 4·10^5 (parallel count), 20,000 scope spawns and 200 tasks on \(threads) threads written to \(tracePath) (\(json.utf8.count / 1024) KiB; checks \(sorted != -1), \(primes), \(counters.total), \(tasks))"
    )
    exit(0)
}

var configuration = ThreadPool.Configuration(threads: threads)
if let us = option("--heartbeat-us").flatMap(Int.init) { configuration.heartbeatInterval = .microseconds(us) }
if let spin = option("--spin").flatMap(Int.init) { configuration.spinBeforeSleep = spin }
if arguments.contains("--pin") { configuration.pinning = .cores }
let pool = try ThreadPool(configuration: configuration)
let naivePool = NaivePool(threads: threads)
var rows: [Row] = []
/// A row runs when no filter is given or its name contains one of the filter's comma-separated parts.
func wanted(_ name: String) -> Bool {
    guard let filter else { return true }
    return filter.split(separator: ",").contains { name.contains($0) }
}
let info = RunInfo.current()

print("spindle-bench — \(info.date) — \(info.cpu), usable cores \(info.cores), pool threads \(threads) — \(info.toolchain)")
print("median of \(repetitions) alternating rounds after one warm-up round; ratio = median / median of the sequential row")
print("spindle: the work starts on a pool worker (the pool's threads do it all); spindle-outside: called from")
print("the main thread, which joins in; -cutoff: parallel only above a hand-tuned size, as users write it\n")

// Warm-up: a few hundred milliseconds of parallel work through every pool, so that threads are
// created, spread over the cores and past their first page faults before anything is measured.
do {
    let warmTree = IndexTree(depth: 18)
    let until = now() + (quick ? 0.2 : 0.5)
    while now() < until {
        blackHole(onWorker(pool) { warmTree.sumJoin(0, pool) })
        DispatchQueue.concurrentPerform(iterations: threads) { _ in blackHole(fibSequential(20)) }
        let countDown = CountDown(threads)
        for _ in 0..<threads {
            naivePool.submit {
                blackHole(fibSequential(20)); countDown.done()
            }
        }
        countDown.wait()
    }
    warmTree.deallocate()
}

// MARK: fork-join workloads

for n in quick ? [30] : [30, 32] where wanted("fib-\(n)") {
    let cutoff = n - 10  // about a thousand parallel tasks at the top, sequential below
    rows += measure(
        workload: "fib-\(n)", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { fibSequential(n) },
            Contender(name: "spindle") { onWorker(pool) { fibJoin(n, pool) } },
            Contender(name: "dispatch-cutoff") { fibDispatch(n, cutoff: cutoff) },
            Contender(name: "taskgroup-cutoff") { blockingAwait { await fibAsync(n, cutoff: cutoff) } },
        ])
}

for depth in quick ? [20] : [20, 24] where wanted("tree-sum-\(depth)") {
    var next = 0
    let root = makeTree(depth: depth, next: &next)
    let contenders = [
        Contender(name: "sequential") { treeSumSequential(root) },
        Contender(name: "spindle") { onWorker(pool) { treeSumJoin(root, pool) } },
        Contender(name: "spindle-outside") { treeSumJoin(root, pool) },
        Contender(name: "dispatch-cutoff") { treeSumDispatch(root, depth: 0, cutoffDepth: 10) },
        Contender(name: "taskgroup-cutoff") { blockingAwait { await treeSumAsync(root, depth: 0, cutoffDepth: 10) } },
    ]
    rows += measure(workload: "tree-sum-\(depth)", threads: threads, repetitions: repetitions, contenders: contenders)
}

if wanted("tree-sum-16-every-node") {
    // Spindle's shape for everyone: a fork at every node, no cutoff. A smaller tree, because a task
    // per node costs TaskGroup about 2 µs (over two seconds a run at 2^20 nodes, which also
    // disturbs the contenders measured after it).
    var next = 0
    let root = makeTree(depth: 16, next: &next)
    rows += measure(
        workload: "tree-sum-16-every-node", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { treeSumSequential(root) },
            Contender(name: "spindle") { onWorker(pool) { treeSumJoin(root, pool) } },
            Contender(name: "dispatch") { treeSumDispatch(root, depth: 0, cutoffDepth: .max) },
            Contender(name: "taskgroup") { blockingAwait { await treeSumAsync(root, depth: 0, cutoffDepth: .max) } },
        ])
}

if wanted("coarse-join") {
    // Joins of plain functions with no join points of their own (the README's
    // `join({ loadMesh() }, { loadTextures() }, …)`): fixed work calibrated to about 100 ms and
    // 60 ms per leaf on this machine, so that more participants than cores cannot finish early.
    let work100 = calibratedWork(seconds: 0.1)
    let work60 = calibratedWork(seconds: 0.06)
    let rounds = quick ? 3 : 5
    rows += measure(
        workload: "coarse-join-2x100ms", threads: threads, repetitions: rounds,
        contenders: [
            Contender(name: "sequential") { busyWork(work100, seed: 1) &+ busyWork(work100, seed: 2) },
            Contender(name: "spindle-outside") {
                let (x, y) = pool.join({ busyWork(work100, seed: 1) }, { busyWork(work100, seed: 2) })
                return x &+ y
            },
            Contender(name: "spindle") {
                onWorker(pool) {
                    let (x, y) = pool.join({ busyWork(work100, seed: 1) }, { busyWork(work100, seed: 2) })
                    return x &+ y
                }
            },
            Contender(name: "concurrentPerform") {
                let total = Atomic<Int>(0)
                DispatchQueue.concurrentPerform(iterations: 2) { i in total.wrappingAdd(busyWork(work100, seed: i + 1), ordering: .relaxed)
                }
                return total.load(ordering: .relaxed)
            },
        ])
    rows += measure(
        workload: "coarse-join-3x60ms", threads: threads, repetitions: rounds,
        contenders: [
            Contender(name: "sequential") { busyWork(work60, seed: 1) &+ busyWork(work60, seed: 2) &+ busyWork(work60, seed: 3) },
            Contender(name: "spindle-outside") {
                let (x, y, z) = pool.join({ busyWork(work60, seed: 1) }, { busyWork(work60, seed: 2) }, { busyWork(work60, seed: 3) })
                return x &+ y &+ z
            },
            Contender(name: "spindle") {
                onWorker(pool) {
                    let (x, y, z) = pool.join({ busyWork(work60, seed: 1) }, { busyWork(work60, seed: 2) }, { busyWork(work60, seed: 3) })
                    return x &+ y &+ z
                }
            },
            Contender(name: "concurrentPerform") {
                let total = Atomic<Int>(0)
                DispatchQueue.concurrentPerform(iterations: 3) { i in total.wrappingAdd(busyWork(work60, seed: i + 1), ordering: .relaxed) }
                return total.load(ordering: .relaxed)
            },
        ])
    // A join whose first branch blocks until the second signals (a hand-off): without a thief it
    // never ends. The same hand-off through `DispatchQueue.global().async` for comparison.
    rows += measureLatency(
        workload: "handoff-join", calls: quick ? 200 : 1_000,
        contenders: [
            (
                "dispatch-async",
                {
                    let handOff = DispatchSemaphore(value: 0)
                    DispatchQueue.global().async { handOff.signal() }
                    handOff.wait()
                }
            ),
            (
                "spindle-outside",
                {
                    let handOff = DispatchSemaphore(value: 0)
                    _ = pool.join({ handOff.wait() }, { handOff.signal() })
                }
            ),
            (
                "spindle",
                {
                    _ = onWorker(pool) {
                        let handOff = DispatchSemaphore(value: 0)
                        _ = pool.join({ handOff.wait() }, { handOff.signal() })
                        return 0
                    }
                }
            ),
        ])
    // Foreground first: a worker in a join of two ~20 ms leaves while the other worker finishes
    // a 1 ms job, with 5 background jobs of ~20 ms queued behind it. The freed worker must take
    // the join's second half first: the join then takes about one leaf (1.0–1.05× the idle-pool
    // join), not one leaf plus the background jobs (about 6×). Ratio vs the same join on an
    // otherwise idle pool.
    let work20 = calibratedWork(seconds: 0.02)
    let work1 = calibratedWork(seconds: 0.001)
    var alone: [Double] = [], behind: [Double] = []
    for _ in 0..<rounds {
        alone.append(onWorkerTimed(pool) { blackHole(pool.join({ busyWork(work20, seed: 1) }, { busyWork(work20, seed: 2) })) })
        let occupied = DispatchSemaphore(value: 0)
        try pool.spawn {
            occupied.signal(); blackHole(busyWork(work1))
        }
        occupied.wait()
        let joinStarted = DispatchSemaphore(value: 0)
        let result = Box<Double>()
        let finished = DispatchSemaphore(value: 0)
        try pool.spawn {
            let t0 = now()
            blackHole(
                pool.join(
                    {
                        joinStarted.signal(); return busyWork(work20, seed: 1)
                    }, { busyWork(work20, seed: 2) }))
            result.value = now() - t0
            finished.signal()
        }
        joinStarted.wait()
        for i in 0..<5 { try pool.spawn { blackHole(busyWork(work20, seed: i)) } }
        finished.wait()
        behind.append(result.value!)
        _ = try pool.submit { 0 }.wait()  // let the background jobs drain
        spin(microseconds: 120_000)
    }
    rows.append(
        Row(
            workload: "join-behind-background", contender: "spindle-idle-pool", threads: threads,
            medianSeconds: median(alone), ratio: 1, note: "join of two ~20 ms leaves on a worker"))
    rows.append(
        Row(
            workload: "join-behind-background", contender: "spindle-5-jobs-queued", threads: threads,
            medianSeconds: median(behind), ratio: median(behind) / median(alone),
            note: "same join, 5 background jobs of ~20 ms queued; ratio vs idle pool"))
}

if wanted("join-4way") {
    // 10^7 joins of trivial closures on a 1-thread pool: a 4-way join against a binary one (the
    // same sum either way). "join-4way": inside six offered joins, so that every measured join
    // takes the fast path, as joins nested in a recursion do (one thread: after the start, no
    // hungry thread asks for promotions, so at least four stay pending and the window stays shut). "join-4way-offered": at the top
    // level, where every join is offered (published on the deque; one allocation, a push and a pop).
    let calls = quick ? 2_000_000 : 10_000_000
    let pool = try ThreadPool(threads: 1)
    for (workload, nesting) in [("join-4way", 6), ("join-4way-offered", 0)] {
        let rowsHere = measure(
            workload: workload, threads: 1, repetitions: repetitions,
            contenders: [
                Contender(name: "binary-join") {
                    onWorker(pool) {
                        nestedInJoins(pool, nesting) {
                            var total = 0
                            for i in 0..<calls {
                                let (x, y) = pool.join({ i }, { i })
                                total &+= x &+ y
                            }
                            return total
                        }
                    }
                },
                Contender(name: "4-way-join") {
                    onWorker(pool) {
                        nestedInJoins(pool, nesting) {
                            var total = 0
                            for i in 0..<calls {
                                let (x, y, z, w) = pool.join({ i }, { i }, { 0 }, { 0 })
                                total &+= x &+ y &+ z &+ w
                            }
                            return total
                        }
                    }
                },
            ])
        rows += rowsHere.map { row in
            Row(
                workload: row.workload, contender: row.contender, threads: 1,
                medianSeconds: row.medianSeconds / Double(calls), ratio: row.ratio,
                note: row.note.isEmpty ? "per join; ratio vs binary-join" : row.note)
        }
    }
}

if wanted("tree-sum-20-indexed") {
    let tree = IndexTree(depth: 20)
    rows += measure(
        workload: "tree-sum-20-indexed", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { tree.sumSequential(0) },
            Contender(name: "spindle") { onWorker(pool) { tree.sumJoin(0, pool) } },
        ])
    tree.deallocate()
}

if wanted("sum-1e7") {
    let n = 10_000_000
    let data = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
    for i in 0..<n { data[i] = UInt64(i & 1023) }
    let input = ReadOnlyBuffer(base: UnsafeBufferPointer(data))
    let chunks = threads * 4
    rows += measure(
        workload: "sum-1e7", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { Int(truncatingIfNeeded: sumSequential(input.base, 0, n)) },
            Contender(name: "spindle") { onWorker(pool) { Int(truncatingIfNeeded: sumJoin(input, 0, n, pool)) } },
            Contender(name: "dispatch") {
                let partial = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: chunks)
                defer { partial.deallocate() }
                let out = SendableBuffer(base: partial)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    out.base[c] = sumSequential(input.base, c * n / chunks, (c + 1) * n / chunks)
                }
                return Int(truncatingIfNeeded: partial.reduce(0, &+))
            },
            Contender(name: "taskgroup") {
                blockingAwait {
                    await withTaskGroup(of: UInt64.self) { group in
                        for c in 0..<chunks {
                            group.addTask { sumSequential(input.base, c * n / chunks, (c + 1) * n / chunks) }
                        }
                        var total: UInt64 = 0
                        for await part in group { total &+= part }
                        return Int(truncatingIfNeeded: total)
                    }
                }
            },
        ])
    data.deallocate()
}

if wanted("quicksort") {
    let n = quick ? 2_000_000 : 10_000_000
    let input = randomInts(n)
    let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    defer { buffer.deallocate() }
    let sortable = SortBuffer(base: buffer)
    rows += measure(
        workload: quick ? "quicksort-2e6" : "quicksort-1e7", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") {
                _ = buffer.initialize(from: input)
                quicksortSequential(buffer, 0, n)
                return checksum(buffer)
            },
            Contender(name: "spindle") {
                _ = buffer.initialize(from: input)
                return onWorker(pool) {
                    quicksortJoin(sortable, 0, n, pool); return checksum(sortable.base)
                }
            },
            Contender(name: "dispatch-cutoff") {
                _ = buffer.initialize(from: input)
                quicksortDispatch(sortable, 0, n, cutoff: 10_000)
                return checksum(buffer)
            },
            Contender(name: "taskgroup-cutoff") {
                _ = buffer.initialize(from: input)
                blockingAwait { await quicksortAsync(sortable, 0, n, cutoff: 10_000) }
                return checksum(buffer)
            },
        ])
}

if wanted("sort-4e6") {
    // Spindle.parallelSort against the standard library's sort (both stable), same input each time.
    let input = randomInts(4_000_000)
    rows += measure(
        workload: "sort-4e6", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") {
                var a = input
                a.sort()
                return a[a.count / 2] &+ a[0]
            },
            Contender(name: "spindle") {
                onWorker(pool) {
                    var a = input
                    a.parallelSort(on: pool)
                    return a[a.count / 2] &+ a[0]
                }
            },
        ])
}

// MARK: parallel iteration (`.parallel` pipelines, called as a user would: from the main thread)

if wanted("par-sum-1e7") {
    // `.parallel.sum()` against `reduce(0, +)` (both with checked `+`), a hand-chunked
    // concurrentPerform with one chunk per thread, and a TaskGroup with one task per thread.
    let data = (0..<10_000_000).map { UInt64($0 & 1023) }
    let n = data.count
    let input = ReadOnlyBuffer(base: data.withUnsafeBufferPointer { $0 })  // `data` outlives every use
    rows += measure(
        workload: "par-sum-1e7", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { Int(truncatingIfNeeded: data.reduce(0, +)) },
            Contender(name: "spindle-outside") { Int(truncatingIfNeeded: data.parallel(on: pool).sum()) },
            Contender(name: "spindle") { onWorker(pool) { Int(truncatingIfNeeded: data.parallel(on: pool).sum()) } },
            Contender(name: "dispatch") {
                let partial = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: threads)
                defer { partial.deallocate() }
                let out = SendableBuffer(base: partial)
                DispatchQueue.concurrentPerform(iterations: threads) { c in
                    out.base[c] = checkedSum(input.base, c * n / threads, (c + 1) * n / threads)
                }
                return Int(truncatingIfNeeded: partial.reduce(0, +))
            },
            Contender(name: "taskgroup") {
                blockingAwait {
                    await withTaskGroup(of: UInt64.self) { group in
                        for c in 0..<threads {
                            group.addTask { checkedSum(input.base, c * n / threads, (c + 1) * n / threads) }
                        }
                        var total: UInt64 = 0
                        for await part in group { total += part }
                        return Int(truncatingIfNeeded: total)
                    }
                }
            },
        ])
    withExtendedLifetime(data) {}
}

if wanted("map-reduce-1e7") {
    // A cheap transform into a reduce: the pipeline shape of issue 13. The sequential loop is
    // vectorised; Spindle's calling thread runs its share as the same loop, a thief runs its
    // pieces through the stage's stored closure (an indirect call per element). The loops are
    // functions, not closures of this file's top-level code: a closure formed here is
    // main-actor isolated, and Swift 6.3 checks the executor on every call of it.
    let data = Array(0..<10_000_000)
    let n = data.count
    let input = ReadOnlyBuffer(base: data.withUnsafeBufferPointer { $0 })  // `data` outlives every use
    rows += measure(
        workload: "map-reduce-1e7", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { mapReduceSequential(data) },
            Contender(name: "spindle-outside") { mapReduceSpindle(data, pool) },
            Contender(name: "spindle") { onWorker(pool) { mapReduceSpindle(data, pool) } },
            Contender(name: "dispatch") {
                let partial = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
                defer { partial.deallocate() }
                let out = SendableBuffer(base: partial)
                DispatchQueue.concurrentPerform(iterations: threads) { c in
                    let piece = UnsafeBufferPointer(rebasing: input.base[(c * n / threads)..<((c + 1) * n / threads)])
                    out.base[c] = piece.reduce(0) { $0 + $1 * 3 }
                }
                return partial.reduce(0, +)
            },
        ])
    withExtendedLifetime(data) {}
}

if wanted("primes-2e6") {
    // Uneven work per item: dispatch and TaskGroup get 64 interleaved-free chunks (a user's
    // usual hand-chunking); Spindle needs no chunk size.
    let n = 2_000_000
    let chunks = 64
    rows += measure(
        workload: "primes-2e6", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") {
                var k = 0
                for i in 0..<n where isPrimeByTrialDivision(i) { k += 1 }
                return k
            },
            Contender(name: "spindle-outside") { (0..<n).parallel(on: pool).count(where: isPrimeByTrialDivision) },
            Contender(name: "spindle") { onWorker(pool) { (0..<n).parallel(on: pool).count(where: isPrimeByTrialDivision) } },
            Contender(name: "dispatch") {
                let counts = Mutex(0)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    var k = 0
                    for i in (c * n / chunks)..<((c + 1) * n / chunks) where isPrimeByTrialDivision(i) { k += 1 }
                    counts.withLock { $0 += k }
                }
                return counts.withLock { $0 }
            },
            Contender(name: "taskgroup") {
                blockingAwait {
                    await withTaskGroup(of: Int.self) { group in
                        for c in 0..<chunks {
                            group.addTask {
                                var k = 0
                                for i in (c * n / chunks)..<((c + 1) * n / chunks) where isPrimeByTrialDivision(i) { k += 1 }
                                return k
                            }
                        }
                        return await group.reduce(0, +)
                    }
                }
            },
        ])
}

if wanted("map-collect-5e6") {
    // `.parallel.map(f).collect()` (results written in place) against `Array.map`, and a
    // concurrentPerform filling an uninitialised array chunk by chunk.
    let data = Array(0..<5_000_000)
    let n = data.count
    let input = ReadOnlyBuffer(base: data.withUnsafeBufferPointer { $0 })  // `data` outlives every use
    let digest: @Sendable ([Int]) -> Int = { a in a[0] &+ a[a.count / 3] &+ a[a.count - 1] &+ a.count }
    rows += measure(
        workload: "map-collect-5e6", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { digest(data.map(mixForMap)) },
            Contender(name: "spindle-outside") { digest(data.parallel(on: pool).map(mixForMap).collect()) },
            Contender(name: "spindle") { onWorker(pool) { digest(data.parallel(on: pool).map(mixForMap).collect()) } },
            Contender(name: "dispatch") {
                digest(
                    Array(unsafeUninitializedCapacity: n) { buffer, count in
                        let out = SendableBuffer(base: buffer)
                        DispatchQueue.concurrentPerform(iterations: threads) { c in
                            for i in (c * n / threads)..<((c + 1) * n / threads) {
                                (out.base.baseAddress! + i).initialize(to: mixForMap(input.base[i]))
                            }
                        }
                        count = n
                    })
            },
        ])
    withExtendedLifetime(data) {}
}

if wanted("uneven-7") {
    // Seven expensive items whose cost doubles from one to the next (the binary-trees shape):
    // 1, 2, 4, … 64 units of about 0.5 ms, no join inside an item. Two threads at best: 64 units
    // on one, 63 on the other; a first-come order (item by item, as TaskGroup and
    // concurrentPerform hand them out) ends with item 6 alone on one thread after 21 units.
    let unit = calibratedWork(seconds: 0.0005)
    let costs = (0..<7).map { unit << $0 }
    let item: @Sendable (Int) -> Int = { k in busyWork(costs[k], seed: k) }
    let rounds = quick ? 3 : 7
    rows += measure(
        workload: "uneven-7", threads: threads, repetitions: rounds,
        contenders: [
            Contender(name: "sequential") { (0..<7).reduce(0) { $0 &+ item($1) } },
            Contender(name: "spindle-outside") { (0..<7).parallel(on: pool).map(item).reduce(0) { $0 &+ $1 } },
            Contender(name: "spindle") { onWorker(pool) { (0..<7).parallel(on: pool).map(item).reduce(0) { $0 &+ $1 } } },
            Contender(name: "spindle-perItem") {
                onWorker(pool) { (0..<7).parallel(on: pool).split(.perItem).map(item).reduce(0) { $0 &+ $1 } }
            },
            Contender(name: "dispatch") {
                let total = Atomic<Int>(0)
                DispatchQueue.concurrentPerform(iterations: 7) { k in total.wrappingAdd(item(k), ordering: .relaxed) }
                return total.load(ordering: .relaxed)
            },
            Contender(name: "taskgroup") {
                blockingAwait {
                    await withTaskGroup(of: Int.self) { group in
                        for k in 0..<7 { group.addTask { item(k) } }
                        return await group.reduce(0) { $0 &+ $1 }
                    }
                }
            },
        ])
}

if wanted("image-blur-4096") {
    // A 3×3 box blur of a 4096×4096 Float image into a new one, rows handed out one at a time
    // (as image code does with concurrentPerform).
    let width = 4_096
    let height = 4_096
    let image = (0..<(width * height)).map { Float(($0 &* 2_654_435_761) >> 24 & 255) }
    let src = ReadOnlyBuffer(base: image.withUnsafeBufferPointer { $0 })  // `image` outlives every use
    rows += measure(
        workload: "image-blur-4096", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { blurDigest(blurSequential(src.base, width: width, height: height)) },
            Contender(name: "spindle-outside") { blurDigest(blurSpindleRows(src, width: width, height: height, pool: pool)) },
            Contender(name: "spindle") {
                blurDigest(blurSpindleRows(src, width: width, height: height, pool: pool, onWorker: true))
            },
            Contender(name: "dispatch") { blurDigest(blurDispatch(src, width: width, height: height)) },
        ])
    withExtendedLifetime(image) {}
}

if wanted("scan-1e7") {
    // Inclusive prefix sums of 10^7 Int (checked +): `.parallel.reductions(+)` against the loop.
    let data = (0..<10_000_000).map { ($0 &* 2_654_435_761) >> 20 & 1023 }
    rows += measure(
        workload: "scan-1e7", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { scanDigest(scanSequential(data)) },
            Contender(name: "spindle-outside") { scanDigest(scanSpindle(data, pool)) },
            Contender(name: "spindle") { onWorker(pool) { scanDigest(scanSpindle(data, pool)) } },
        ])
}

if wanted("double-sum-1e7") {
    // A Double sum: adaptive (the fastest split, last bits vary with stealing) and
    // `.deterministic` (bit-identical on any pool; "fixed-tree"): what the fixed tree costs.
    var rng = SystemRandomNumberGenerator()
    let data = (0..<10_000_000).map { _ in Double.random(in: 0..<1, using: &rng) }
    rows += measure(
        workload: "double-sum-1e7", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { roundedCheck(doubleSumSequential(data)) },
            Contender(name: "spindle-adaptive") { roundedCheck(doubleSumAdaptive(data, pool)) },
            Contender(name: "spindle-fixed-tree") { roundedCheck(doubleSumDeterministic(data, pool)) },
        ])
}

if wanted("scratch-state-1e5") {
    // 10^5 items that each need a 256-entry scratch array: a new array per item, against one
    // per thread (`map(makingState:)`), against the sequential loop reusing one.
    let n = 100_000
    rows += measure(
        workload: "scratch-state-1e5", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { histogramsSequential(n) },
            Contender(name: "spindle-per-item") { histogramsPerElement(n, pool) },
            Contender(name: "spindle-per-thread") { histogramsPerThread(n, pool) },
        ])
}

if wanted("bridge-lines-1e5") {
    // 10^5 "lines" from a generator (a `sequence(state:next:)`, no random access), each parsed
    // and mixed (~1 µs): read in windows by `ParallelBridge`, against reading them all into an
    // array first, against the plain loop.
    let n = 100_000
    rows += measure(
        workload: "bridge-lines-1e5", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { bridgeSequential(n) },
            Contender(name: "spindle-bridge") { bridgeSpindle(n, pool) },
            Contender(name: "array-then-loop") { bridgeCollectFirst(n, pool) },
        ])
}

if wanted("blocking-section") {
    // Every worker blocks (waits on a semaphore, as on I/O or a lock) while a parallel loop of
    // CPU work (~40 ms sequential) runs from an outside thread: without `pool.blocking` the
    // blocked workers starve the loop (the caller does it alone); with it, spare workers take
    // their place. Timed from the blocks to the loop's end and the blockers' release.
    let n = 200_000
    // One pool per contender: spares lent to one would otherwise serve the other (they stay
    // for `spareThreadIdleTimeout`, 1 s, after the blocks end).
    let starvedPool = try! ThreadPool(threads: threads)
    let lendingPool = try! ThreadPool(threads: threads)
    let blockers = threads
    func blockingRow(lending: Bool) -> Int {
        let pool = lending ? lendingPool : starvedPool
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        for _ in 0..<blockers {
            try! pool.spawn {
                started.signal()
                if lending { pool.blocking { release.wait() } } else { release.wait() }
                finished.signal()
            }
        }
        for _ in 0..<blockers { started.wait() }
        let total = (0..<n).parallel(on: pool).map(blockingRowItem).reduce(0) { $0 &+ $1 }
        for _ in 0..<blockers { release.signal() }
        for _ in 0..<blockers { finished.wait() }
        return total
    }
    rows += measure(
        workload: "blocking-section", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { blockingRowSequential(n) },
            Contender(name: "spindle-starved") { blockingRow(lending: false) },
            Contender(name: "spindle-blocking") { blockingRow(lending: true) },
        ])
    starvedPool.shutdown()
    lendingPool.shutdown()
}

// MARK: async integration

if wanted("async-tasks-1e5") {
    // 10^5 trivial child tasks in a withDiscardingTaskGroup: on Swift's global executor (the
    // baseline), and under withTaskExecutorPreference(pool), where every child runs on the pool.
    let n = 100_000
    let rowsHere = measure(
        workload: "async-tasks-1e5", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "global-executor") {
                blockingAwait { await discardingChildTasks(n) }
                return n
            },
            Contender(name: "spindle") {
                blockingAwait { await withTaskExecutorPreference(pool) { await discardingChildTasks(n) } }
                return n
            },
        ])
    rows += rowsHere.map { row in
        Row(
            workload: row.workload, contender: row.contender, threads: threads, medianSeconds: row.medianSeconds,
            ratio: row.ratio, note: row.note.isEmpty ? "ratio vs global-executor" : row.note)
    }
}

if wanted("run-roundtrip") {
    // One `try await pool.run { 1 }` from async code, against the same hop through a detached
    // task and through a continuation resumed from DispatchQueue.global().
    let calls = quick ? 2_000 : 10_000
    // `spindle-run-on-pool`: the same call from a task that already runs on the pool, where
    // `run` has nothing to hop to.
    var samples = [[Double]](repeating: [], count: 5)
    for round in 0...repetitions {
        let m = [
            asyncLatency(calls: calls) { await Task.detached { 1 }.value },
            asyncLatency(calls: calls) { try await pool.run { 1 } },
            asyncLatency(calls: calls) {
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async { continuation.resume(returning: 1) }
                }
            },
            asyncLatency(calls: calls, preferring: pool) { try await pool.run { 1 } },
            // The bare hand-off `run` is built on: a continuation resumed by a pool worker.
            asyncLatency(calls: calls) {
                await withCheckedContinuation { continuation in
                    try! pool.spawn { continuation.resume(returning: 1) }
                }
            },
        ]
        if round > 0 { for i in 0..<5 { samples[i].append(m[i]) } }
    }
    let names = ["task-detached", "spindle-run", "dispatch-continuation", "spindle-run-on-pool", "spawn-continuation"]
    let base = median(samples[0])
    rows += (0..<5).map { i in
        Row(
            workload: "run-roundtrip", contender: names[i], threads: threads, medianSeconds: median(samples[i]),
            ratio: median(samples[i]) / base, note: "per call; ratio vs task-detached")
    }
    // From a task on the pool, timed over a batch (no clock read per call): what a `run` that
    // has nothing to hop to adds to a plain async call.
    let batch = quick ? 20_000 : 200_000
    var batchSamples = [[Double]](repeating: [], count: 2)
    for round in 0...repetitions {
        let m = blockingAwait {
            await Task(executorPreference: pool) { () async -> [Double] in
                var t0 = now()
                for i in 0..<batch { blackHole(await plainAsyncCall(i)) }
                let plain = (now() - t0) / Double(batch)
                t0 = now()
                for i in 0..<batch { blackHole((try? await pool.run { i }) ?? 0) }
                return [plain, (now() - t0) / Double(batch)]
            }.value
        }
        if round > 0 { for i in 0..<2 { batchSamples[i].append(m[i]) } }
    }
    let plainCall = median(batchSamples[0])
    rows += zip(["plain-async-call", "spindle-run"], batchSamples).map { name, samples in
        Row(
            workload: "run-on-pool-batch", contender: name, threads: threads, medianSeconds: median(samples),
            ratio: median(samples) / plainCall, note: "per call from a task on the pool, timed over \(batch) calls")
    }
    // From the main actor, where many programs start (a `@main` type's `main`, an app's UI code).
    var mainSamples = [[Double]](repeating: [], count: 2)
    for round in 0...repetitions {
        let m = [
            mainActorLatency(calls: calls) { await Task.detached { 1 }.value },
            mainActorLatency(calls: calls) { try await pool.run { 1 } },
        ]
        if round > 0 { for i in 0..<2 { mainSamples[i].append(m[i]) } }
    }
    let mainBase = median(mainSamples[0])
    rows += zip(["task-detached", "spindle-run"], mainSamples).map { name, samples in
        Row(
            workload: "run-roundtrip-main-actor", contender: name, threads: threads, medianSeconds: median(samples),
            ratio: median(samples) / mainBase, note: "per call from the main actor; ratio vs task-detached")
    }
}

// MARK: spawns and jobs

if wanted("spawn-1e6") {
    // Each spawned closure bumps a counter of the thread that runs it (one cache line per thread),
    // so the workload measures the spawns, not contention on a shared counter.
    let n = 1_000_000
    let counters = PaddedCounters()
    let work: @Sendable () -> Void = { counters.bump(ThreadPool.currentThreadIndex ?? 63) }
    let anyThreadCounter = Atomic<Int>(0)
    let counted: @Sendable () -> Void = { anyThreadCounter.wrappingAdd(1, ordering: .relaxed) }
    var result = measure(
        workload: "spawn-1e6", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") {
                counters.reset()
                for _ in 0..<n { work() }
                return counters.total
            },
            Contender(name: "spindle") {
                counters.reset()
                return onWorker(pool) {
                    pool.scope { s in for _ in 0..<n { s.spawn(work) } }
                    return counters.total
                }
            },
            Contender(name: "dispatch") {
                anyThreadCounter.store(0, ordering: .relaxed)
                let group = DispatchGroup()
                let queue = DispatchQueue.global()
                for _ in 0..<n { queue.async(group: group, execute: counted) }
                group.wait()
                return anyThreadCounter.load(ordering: .relaxed)
            },
            Contender(name: "taskgroup") {
                anyThreadCounter.store(0, ordering: .relaxed)
                blockingAwait {
                    await withDiscardingTaskGroup { group in
                        for _ in 0..<n { group.addTask(operation: counted) }
                    }
                }
                return anyThreadCounter.load(ordering: .relaxed)
            },
            Contender(name: "naive-pool") {
                anyThreadCounter.store(0, ordering: .relaxed)
                let countDown = CountDown(n)
                for _ in 0..<n {
                    naivePool.submit {
                        counted(); countDown.done()
                    }
                }
                countDown.wait()
                return anyThreadCounter.load(ordering: .relaxed)
            },
        ])
    for i in result.indices.dropFirst() {
        let r = result[i]
        result[i] = Row(
            workload: r.workload, contender: r.contender, threads: r.threads, medianSeconds: r.medianSeconds,
            ratio: r.ratio, note: r.note + String(format: " %.0f ns per spawn", r.medianSeconds / Double(n) * 1e9))
    }
    rows += result
}

if wanted("burst-1000") {
    // Submit 1000 jobs of about 10 µs each, then wait for all of them.
    let jobs = 1_000, size = 17
    rows += measure(
        workload: "burst-1000", threads: threads, repetitions: repetitions,
        contenders: [
            Contender(name: "sequential") { (0..<jobs).reduce(0) { acc, _ in acc &+ fibSequential(size) } },
            Contender(name: "spindle") {
                let handles = (0..<jobs).map { _ in try! pool.submit { fibSequential(size) } }
                return handles.reduce(0) { $0 &+ (try! $1.wait()) }
            },
            Contender(name: "dispatch") {
                let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: jobs)
                defer { results.deallocate() }
                let out = SendableBuffer(base: results)
                let group = DispatchGroup()
                for i in 0..<jobs { DispatchQueue.global().async(group: group) { out.base[i] = fibSequential(size) } }
                group.wait()
                return results.reduce(0, &+)
            },
            Contender(name: "taskgroup") {
                blockingAwait {
                    await withTaskGroup(of: Int.self) { group in
                        for _ in 0..<jobs { group.addTask { fibSequential(size) } }
                        var total = 0
                        for await r in group { total &+= r }
                        return total
                    }
                }
            },
            Contender(name: "naive-pool") {
                let total = Atomic<Int>(0)
                let countDown = CountDown(jobs)
                for _ in 0..<jobs {
                    naivePool.submit {
                        total.wrappingAdd(fibSequential(size), ordering: .relaxed); countDown.done()
                    }
                }
                countDown.wait()
                return total.load(ordering: .relaxed)
            },
            Contender(name: "thread-per-job") {
                let total = Atomic<Int>(0)
                threadPerJob(jobs) { _ in total.wrappingAdd(fibSequential(size), ordering: .relaxed) }
                return total.load(ordering: .relaxed)
            },
        ])
}

/// Latency of single calls: each timed alone, median over `calls`.
func latency(calls: Int, _ body: () -> Void) -> Double {
    var samples = [Double]()
    samples.reserveCapacity(calls)
    for _ in 0..<calls {
        let t0 = now()
        body()
        samples.append(now() - t0)
    }
    return median(samples)
}

/// Latency rows: each contender's median single-call time, alternating rounds; the ratio is
/// against the first contender (named in the note), since there is no sequential twin.
func measureLatency(workload: String, calls: Int, contenders: [(String, () -> Void)]) -> [Row] {
    var samples = [[Double]](repeating: [], count: contenders.count)
    for round in 0...repetitions {
        for (i, c) in contenders.enumerated() {
            let m = latency(calls: calls, c.1)
            if round > 0 { samples[i].append(m) }
        }
    }
    let base = median(samples[0])
    return contenders.enumerated().map { i, c in
        let m = median(samples[i])
        return Row(
            workload: workload, contender: c.0, threads: threads, medianSeconds: m, ratio: m / base,
            note: "per call; ratio vs \(contenders[0].0)")
    }
}

if wanted("cpu-job") {
    // One job of about a millisecond, handed to a thread and waited for; sequential calls it directly.
    let size = 25
    rows += measure(
        workload: "cpu-job", threads: threads, repetitions: repetitions * 3,
        contenders: [
            Contender(name: "sequential") { fibSequential(size) },
            Contender(name: "spindle") { onWorker(pool) { fibSequential(size) } },
            Contender(name: "dispatch") {
                let box = Box<Int>(), done = DispatchSemaphore(value: 0)
                DispatchQueue.global().async {
                    box.value = fibSequential(size); done.signal()
                }
                done.wait()
                return box.value!
            },
            Contender(name: "taskgroup") { blockingAwait { fibSequential(size) } },
            Contender(name: "naive-pool") {
                let box = Box<Int>(), done = DispatchSemaphore(value: 0)
                naivePool.submit {
                    box.value = fibSequential(size); done.signal()
                }
                done.wait()
                return box.value!
            },
            Contender(name: "thread-per-job") {
                let box = Box<Int>()
                threadPerJob(1) { _ in box.value = fibSequential(size) }
                return box.value!
            },
        ])
}

if wanted("submit-flood") {
    // `submit` of trivial tasks into `maxPending: 1000` from one thread and from eight threads
    // at once (each retries after `.saturated`), the handles dropped: the admission path under
    // contention. Per submission: wall time over all submissions of the round.
    let perThread = quick ? 100_000 : 1_000_000
    let flood = try! ThreadPool(configuration: .init(threads: threads, maxPending: 1_000))
    func floodSeconds(submitters: Int) -> Double {
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for _ in 0..<submitters {
            done.enter()
            Thread {
                start.wait()
                for _ in 0..<perThread {
                    while (try? flood.submit { 0 }) == nil { sched_yield() }
                }
                done.leave()
            }.start()
        }
        let t0 = now()
        for _ in 0..<submitters { start.signal() }
        done.wait()
        while flood.metrics.pendingTasks > 0 { sched_yield() }  // until every task has started
        return (now() - t0) / Double(submitters * perThread)
    }
    var samples = [[Double]](repeating: [], count: 2)
    for round in 0...max(1, repetitions / 3) {
        let m = [floodSeconds(submitters: 1), floodSeconds(submitters: 8)]
        if round > 0 { for i in 0..<2 { samples[i].append(m[i]) } }
    }
    flood.shutdown()
    let single = median(samples[0])
    rows.append(
        Row(
            workload: "submit-flood", contender: "spindle-1-submitter", threads: threads, medianSeconds: single,
            ratio: 1, note: "per submission, \(perThread) submits, maxPending 1000"))
    rows.append(
        Row(
            workload: "submit-flood", contender: "spindle-8-submitters", threads: threads,
            medianSeconds: median(samples[1]), ratio: median(samples[1]) / single,
            note: "per submission, 8 threads x \(perThread) submits; ratio vs one submitter"))
}

if wanted("async-sleep") {
    // 10^4 and 10^5 async tasks that each sleep 10 ms: a task scope under maxPending 10,000,
    // withTaskGroup and unbounded Task {}; time and peak resident memory, each in its own process.
    rows += sleepingFloodRows(
        counts: quick ? [10_000] : [10_000, 100_000], threads: threads, repetitions: quick ? 1 : 3)
}

if wanted("async-trivial") {
    // 10^6 trivial async tasks through a task scope on the pool against the global executor.
    rows += trivialAsyncRows(count: quick ? 100_000 : 1_000_000, threads: threads, repetitions: quick ? 2 : 3)
}

if wanted("trivial-job") {
    // The round trip of one no-op job: hand it to another thread, wait until it ran.
    let calls = quick ? 2_000 : 10_000
    rows += measureLatency(
        workload: "trivial-job", calls: calls,
        contenders: [
            (
                "dispatch",
                {
                    let done = DispatchSemaphore(value: 0); DispatchQueue.global().async { done.signal() }; done.wait()
                }
            ),
            ("spindle", { _ = onWorker(pool) { 0 } }),
            ("taskgroup", { _ = blockingAwait { 0 } }),
            (
                "naive-pool",
                {
                    let done = DispatchSemaphore(value: 0); naivePool.submit { done.signal() }; done.wait()
                }
            ),
        ])
    rows += measureLatency(
        workload: "trivial-job-thread", calls: quick ? 200 : 1_000,
        contenders: [
            (
                "dispatch",
                {
                    let done = DispatchSemaphore(value: 0); DispatchQueue.global().async { done.signal() }; done.wait()
                }
            ),
            ("thread-per-job", { threadPerJob(1) { _ in } }),
        ])
}

if wanted("external-join") {
    // A join of two trivial closures from a thread outside the pool.
    let calls = quick ? 2_000 : 20_000
    rows += measureLatency(
        workload: "external-join", calls: calls,
        contenders: [
            ("concurrentPerform", { DispatchQueue.concurrentPerform(iterations: 2) { blackHole($0) } }),
            ("spindle", { _ = pool.join({ blackHole(1) }, { blackHole(2) }) }),
            (
                "taskgroup",
                {
                    _ = blockingAwait {
                        async let a = 1; async let b = 2; return await a + b
                    }
                }
            ),
        ])
}

if wanted("busy-join") {
    // Every worker busy with 3 ms background tasks; an outside thread joins two small pieces.
    let piece = 16
    let calls = quick ? 200 : 1_000
    let idle = latency(calls: calls) { _ = pool.join({ fibSequential(piece) }, { fibSequential(piece) }) }
    let stop = Atomic<Bool>(false)
    let feeder = Thread {
        while !stop.load(ordering: .relaxed) {
            for _ in 0..<threads * 2 { try? pool.spawn { spin(microseconds: 3_000) } }
            spin(microseconds: 3_000)
        }
    }
    feeder.start()
    spin(microseconds: 20_000)
    let busy = latency(calls: calls) { _ = pool.join({ fibSequential(piece) }, { fibSequential(piece) }) }
    stop.store(true, ordering: .relaxed)
    rows.append(
        Row(
            workload: "busy-join", contender: "spindle-idle-pool", threads: threads,
            medianSeconds: idle, ratio: 1, note: "per call"))
    rows.append(
        Row(
            workload: "busy-join", contender: "spindle-busy-pool", threads: threads,
            medianSeconds: busy, ratio: busy / idle, note: "per call, workers busy with 3 ms tasks; ratio vs idle pool"))
    _ = try pool.submit { 0 }.wait()  // let the queued background tasks drain
    spin(microseconds: 20_000)
}

if wanted("idle-cpu") {
    // CPU time the pool's threads use over two seconds of idleness (after a short settle).
    let idlePool = try ThreadPool(configuration: .init(threads: threads, threadNamePrefix: "idle-"))
    _ = try idlePool.submit { 0 }.wait()
    let naiveIdle = NaivePool(threads: threads, name: "naive-idle")
    usleep(200_000)
    let before = threadCPUSeconds(prefix: "idle-"), naiveBefore = threadCPUSeconds(prefix: "naive-idle")
    usleep(2_000_000)
    let spent = threadCPUSeconds(prefix: "idle-") - before
    let naiveSpent = threadCPUSeconds(prefix: "naive-idle") - naiveBefore
    rows.append(
        Row(
            workload: "idle-cpu", contender: "spindle", threads: threads, medianSeconds: spent, ratio: .nan,
            note: String(format: "CPU seconds used by an idle pool over 2 s (%.3f%% of one core)", spent / 2 * 100)))
    rows.append(
        Row(
            workload: "idle-cpu", contender: "naive-pool", threads: threads, medianSeconds: naiveSpent, ratio: .nan,
            note: String(format: "CPU seconds over 2 s (%.3f%% of one core)", naiveSpent / 2 * 100)))
    naiveIdle.stop()
    withExtendedLifetime(idlePool) {}
}

if wanted("saturation-memory") {
    // 10^7 submissions (quick: 10^6) of a trivial job from one thread: into a pool with
    // maxPending 1,000 ("bounded": the submitter spawns until `.saturated`, then yields and retries),
    // and into an unbounded pool. Resident memory is sampled every 10,000 submissions; the row
    // gives its largest growth over the start. Bounded: flat, whatever the number of submissions.
    let total = quick ? 1_000_000 : 10_000_000
    for (name, maxPending) in [("spindle-bounded", Optional(1_000)), ("spindle-unbounded", nil)] {
        let pool = try ThreadPool(configuration: .init(threads: threads, threadNamePrefix: "sat-", maxPending: maxPending))
        let ran = Atomic<Int>(0)
        let start = currentResidentBytes()
        var peak = start
        var refusals = 0
        let t0 = now()
        var submitted = 0
        while submitted < total {
            do {
                try pool.spawn { ran.wrappingAdd(1, ordering: .relaxed) }
                submitted += 1
                if submitted % 10_000 == 0 { peak = max(peak, currentResidentBytes()) }
            } catch {
                refusals += 1
                sched_yield()
            }
        }
        pool.shutdown()
        let elapsed = now() - t0
        let ok = ran.load(ordering: .relaxed) == total
        rows.append(
            Row(
                workload: "saturation-memory", contender: name, threads: threads, medianSeconds: elapsed, ratio: .nan,
                note: String(
                    format: "%d submissions: resident memory grew at most %.1f MiB, %d refusals%@",
                    total, Double(peak - start) / 1_048_576, refusals, ok ? "" : ", LOST WORK")))
    }
}

if !arguments.contains("--no-rayon") {
    if let rayonRows = runRayonComparison(threads: threads, repetitions: repetitions, quick: quick, filter: filter) {
        rows += rayonRows
    }
}

// Group rows by workload (in order of first appearance), so rayon's rows sit with their workload.
var order: [String] = []
for r in rows where !order.contains(r.workload) { order.append(r.workload) }
rows = order.flatMap { w in rows.filter { $0.workload == w } }

printTable(rows)
if arguments.contains("--counters") {
    let c = pool._schedulerCounters
    print("scheduler counters: \(c.promotions) promotions, \(c.steals) steals")
}
if let path = option("--json") {
    try writeJSON(rows, info: info, to: path)
    print("wrote \(path)")
}
if let path = option("--chart") {
    try writeChart(rows, info: info, to: path)
    print("wrote \(path)")
}
naivePool.stop()
