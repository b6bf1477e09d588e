import Synchronization
import Testing
@testable import Spindle

// MARK: - Workloads

/// A binary tree of immutable nodes.
final class TreeNode: Sendable {
    let value: Int
    let left: TreeNode?
    let right: TreeNode?

    init(value: Int, left: TreeNode?, right: TreeNode?) {
        self.value = value
        self.left = left
        self.right = right
    }

    /// A complete tree of `levels` levels (`2^levels - 1` nodes), values from `next`.
    static func complete(levels: Int, next: inout Int) -> TreeNode? {
        guard levels > 0 else { return nil }
        let value = next
        next += 1
        let left = complete(levels: levels - 1, next: &next)
        let right = complete(levels: levels - 1, next: &next)
        return TreeNode(value: value, left: left, right: right)
    }
}

func treeSumSequential(_ node: TreeNode?) -> Int {
    guard let node else { return 0 }
    return node.value + treeSumSequential(node.left) + treeSumSequential(node.right)
}

func treeSumJoin(_ pool: ThreadPool, _ node: TreeNode?) -> Int {
    guard let node else { return 0 }
    let (l, r) = pool.join({ treeSumJoin(pool, node.left) }, { treeSumJoin(pool, node.right) })
    return node.value + l + r
}

/// A buffer two closures may sort disjoint parts of.
struct SharedBuffer: @unchecked Sendable {  // each join side touches a disjoint range
    let base: UnsafeMutableBufferPointer<Int>
}

/// Three-way quicksort of `buffer[lo..<hi]`, a `join` at every level.
func quicksortJoin(_ pool: ThreadPool, _ buffer: SharedBuffer, _ lo: Int, _ hi: Int) {
    if hi - lo < 2 { return }
    let b = buffer.base
    let pivot = b[lo + (hi - lo) / 2]
    var lt = lo, i = lo, gt = hi
    while i < gt {
        if b[i] < pivot {
            b.swapAt(lt, i); lt += 1; i += 1
        } else if b[i] > pivot {
            gt -= 1; b.swapAt(i, gt)
        } else {
            i += 1
        }
    }
    let (leftEnd, rightStart) = (lt, gt)
    _ = pool.join({ quicksortJoin(pool, buffer, lo, leftEnd) }, { quicksortJoin(pool, buffer, rightStart, hi) })
}

/// Fibonacci with a join at every level whose leaf `failAt` throws.
func fibThrowing(_ pool: ThreadPool, _ n: Int, failAt: Int) throws(TestError) -> Int {
    if n == failAt { throw .boom(n) }
    if n < 2 { return n }
    let (a, b) = try pool.join(
        { () throws(TestError) -> Int in try fibThrowing(pool, n - 1, failAt: failAt) },
        { @Sendable () throws(TestError) -> Int in try fibThrowing(pool, n - 2, failAt: failAt) })
    return a + b
}

/// Forces promotion of the caller's pending join work: each nested join checks the heartbeat
/// flag and, when it is set, makes the oldest pending job stealable.
func pumpJoins(_ pool: ThreadPool) {
    _ = pool.join({ 0 }, { 0 })
    yieldThread()
}

// MARK: - Tests

@Suite("join")
struct JoinTests {
    @Test("fib through join equals the sequential result", arguments: [0, 1, 2, 3, 10, 20, 22])
    func fibMatchesSequential(n: Int) throws {
        let pool = try ThreadPool(threads: 4)
        #expect(fibJoin(pool, n) == fibSequential(n))
    }

    @Test("fib through join on a 1-thread pool")
    func fibOnOneThread() throws {
        let pool = try ThreadPool(threads: 1)
        #expect(fibJoin(pool, 20) == fibSequential(20))
    }

    @Test("fib through join with a very short heartbeat (many promotions and steals)")
    func fibWithShortHeartbeat() throws {
        let pool = try ThreadPool(configuration: .init(threads: 3, heartbeatInterval: .microseconds(5)))
        for _ in 0..<3 {
            #expect(fibJoin(pool, 21) == fibSequential(21))
        }
    }

    @Test("tree sum through join equals the sequential sum (2^14 nodes)")
    func treeSum() throws {
        var next = 1
        let tree = TreeNode.complete(levels: 14, next: &next)
        #expect(next - 1 == (1 << 14) - 1)
        let pool = try ThreadPool(threads: 4)
        let expected = treeSumSequential(tree)
        #expect(expected == (next - 1) * next / 2)
        #expect(treeSumJoin(pool, tree) == expected)
    }

    @Test("quicksort through join sorts like the standard library")
    func quicksort() throws {
        var rng = SplitMix64(seed: 42)
        let input = (0..<20_000).map { _ in Int.random(in: 0..<5_000, using: &rng) }
        var data = input
        let pool = try ThreadPool(threads: 4)
        data.withUnsafeMutableBufferPointer { buffer in
            quicksortJoin(pool, SharedBuffer(base: buffer), 0, buffer.count)
        }
        #expect(data == input.sorted())
    }

    @Test("join returns both results, in order, of different types")
    func heterogeneousResults() throws {
        let pool = try ThreadPool(threads: 2)
        let (a, b) = pool.join({ "left" }, { [1, 2, 3] })
        #expect(a == "left")
        #expect(b == [1, 2, 3])
    }

    @Test("the first closure of join may capture and mutate local state")
    func firstClosureIsNotSendable() throws {
        let pool = try ThreadPool(threads: 2)
        var local = 0
        let (_, b) = pool.join({ local += 41 }, { 1 })
        #expect(local + b == 42)
    }

    @Test("join called from inside workers of its own pool")
    func joinFromWorkers() throws {
        let pool = try ThreadPool(threads: 3)
        let results = pool.broadcast { _ in fibJoin(pool, 16) }
        #expect(results == Array(repeating: fibSequential(16), count: 3))
    }

    @Test("the second closure is offered to other threads: a first closure that waits for it completes")
    func secondClosureRunsInParallel() throws {
        let pool = try ThreadPool(threads: 2)
        let bRan = Flag()
        let bIndex = Atomic<Int>(-2)
        let (aSawB, _) = pool.join(
            {
                // Only a worker can run `b` while `a` runs; the nested joins give the heartbeat a
                // join point at which to promote `b`.
                repeatUntil({ bRan.isSet }, step: { pumpJoins(pool) })
            },
            {
                bIndex.store(pool.currentThreadIndex ?? -1, ordering: .sequentiallyConsistent)
                bRan.set()
            })
        #expect(aSawB)
        let index = bIndex.load(ordering: .sequentiallyConsistent)
        #expect((0..<2).contains(index), "b ran on thread index \(index), expected a worker")
    }

    // MARK: Errors

    @Test("an error thrown by the first closure reaches the caller after the second has finished")
    func errorFromLeft() throws {
        let pool = try ThreadPool(threads: 3)
        let rightFinished = Flag()
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in
                    _ = fibJoin(pool, 12)
                    throw .left
                },
                { @Sendable () throws(TestError) -> Int in
                    let r = fibJoin(pool, 15)
                    rightFinished.set()
                    return r
                })
            Issue.record("join did not throw")
        } catch {
            #expect(error == .left)
            #expect(rightFinished.isSet)
        }
        #expect(fibJoin(pool, 18) == fibSequential(18))
    }

    @Test("an error thrown by the second closure reaches the caller after the first has finished")
    func errorFromRight() throws {
        let pool = try ThreadPool(threads: 3)
        let leftFinished = Flag()
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in
                    let r = fibJoin(pool, 15)
                    leftFinished.set()
                    return r
                },
                { @Sendable () throws(TestError) -> Int in
                    _ = fibJoin(pool, 12)
                    throw .right
                })
            Issue.record("join did not throw")
        } catch {
            #expect(error == .right)
            #expect(leftFinished.isSet)
        }
        #expect(fibJoin(pool, 18) == fibSequential(18))
    }

    @Test("when both closures throw, the first closure's error wins, after both finished")
    func errorFromBoth() throws {
        let pool = try ThreadPool(threads: 3)
        let finished = Counter()
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in
                    _ = fibJoin(pool, 14)
                    finished.add()
                    throw .left
                },
                { @Sendable () throws(TestError) -> Int in
                    _ = fibJoin(pool, 14)
                    finished.add()
                    throw .right
                })
            Issue.record("join did not throw")
        } catch {
            #expect(error == .left)
            #expect(finished.value == 2)
        }
        #expect(fibJoin(pool, 18) == fibSequential(18))
    }

    @Test("an error from a first closure waits for a second closure that a worker is running")
    func errorFromLeftWhileRightIsStolen() throws {
        let pool = try ThreadPool(threads: 2)
        let rightStarted = Flag()
        let rightFinished = Flag()
        let gate = TestSemaphore()
        defer { gate.signal() }  // never leave the worker blocked
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in
                    let stolen = repeatUntil({ rightStarted.isSet }, step: { pumpJoins(pool) })
                    gate.signal()  // only now may the second closure go on and finish
                    if stolen { throw .left }
                    return 0
                },
                { @Sendable () throws(TestError) -> Int in
                    rightStarted.set()
                    gate.wait()
                    _ = fibJoin(pool, 12)
                    rightFinished.set()
                    return 1
                })
            Issue.record("join did not throw (the second closure was never stolen)")
        } catch {
            #expect(error == .left)
            #expect(rightFinished.isSet, "join returned before its stolen second closure finished")
        }
        #expect(fibJoin(pool, 18) == fibSequential(18))
    }

    @Test("an error from a second closure that a worker ran reaches the caller")
    func errorFromStolenRight() throws {
        let pool = try ThreadPool(threads: 2)
        let rightStarted = Flag()
        let leftFinished = Flag()
        do throws(TestError) {
            _ = try pool.join(
                { () throws(TestError) -> Int in
                    _ = repeatUntil({ rightStarted.isSet }, step: { pumpJoins(pool) })
                    leftFinished.set()
                    return 0
                },
                { @Sendable () throws(TestError) -> Int in
                    rightStarted.set()
                    _ = fibJoin(pool, 12)
                    throw .right
                })
            Issue.record("join did not throw")
        } catch {
            #expect(error == .right)
            #expect(leftFinished.isSet)
        }
        #expect(rightStarted.isSet)
        #expect(fibJoin(pool, 18) == fibSequential(18))
    }

    @Test("an error thrown deep inside nested joins reaches the outermost caller", arguments: [0, 1, 5])
    func errorFromDeepLeaf(failAt: Int) throws {
        let pool = try ThreadPool(threads: 4)
        #expect(throws: TestError.boom(failAt)) {
            _ = try fibThrowing(pool, 18, failAt: failAt)
        }
        // Nothing throws when the failing level is never reached.
        #expect(try fibThrowing(pool, 18, failAt: -1) == fibSequential(18))
        #expect(fibJoin(pool, 18) == fibSequential(18))
    }

    // MARK: Spindle.join

    @Test("Spindle.join from a thread outside every pool uses ThreadPool.shared")
    func freeJoinFallsBackToShared() {
        let shared = ThreadPool.shared
        #expect(shared.threadCount >= 1)
        let (inShared, value) = Spindle.join(
            {
                Participant.current(in: shared.registryID) != nil
            },
            {
                fibFreeJoin(15)
            })
        #expect(inShared, "the caller did not take part in ThreadPool.shared")
        #expect(value == fibSequential(15))
        #expect(ThreadPool.currentThreadIndex == nil)
    }

    @Test("Spindle.join on a worker uses that worker's pool")
    func freeJoinOnWorkerUsesItsPool() throws {
        let pool = try ThreadPool(threads: 2)
        let results = pool.broadcast { _ in
            let (inPool, value) = Spindle.join(
                {
                    Participant.current(in: pool.registryID) != nil
                },
                {
                    fibFreeJoin(14)
                })
            return inPool && value == fibSequential(14)
        }
        #expect(results == [true, true])
    }
}

/// Not `Sendable`: a join branch may still own one (its closure is `sending`).
final class Tally {
    var total = 0
    func add(_ values: Range<Int>) { for v in values { total += v } }
}

@Suite("sending join branches")
struct SendingJoinTests {
    @Test("a join's other branches may capture non-Sendable values the first does not touch")
    func nonSendableCaptures() throws {
        let pool = try ThreadPool(threads: 2)
        defer { pool.shutdown() }
        for fromWorker in [false, true] {
            let run: @Sendable () -> [Int] = {
                let left = Tally()
                let right = Tally()
                let (a, b) = pool.join(
                    { () -> Int in
                        left.add(0..<1_000)
                        return left.total
                    },
                    { () -> Int in
                        right.add(1_000..<2_000)  // `right` is this branch's alone
                        return right.total
                    })
                let (c, d, e) = pool.join(
                    { 1 },
                    { () -> Int in
                        let t = Tally()
                        t.add(0..<10)
                        return t.total
                    },
                    { () -> Int in
                        let t = Tally()
                        t.add(10..<20)
                        return t.total
                    })
                let free = Tally()
                let (f, g) = Spindle.join(
                    { 7 },
                    { () -> Int in
                        free.add(0..<5)
                        return free.total
                    })
                return [a, b, c, d, e, f, g]
            }
            let results = fromWorker ? try onWorker(pool, run) : run()
            #expect(results == [499_500, 1_499_500, 1, 45, 145, 7, 10])
        }
    }
}
