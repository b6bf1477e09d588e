/// What a `broadcast` closure learns about where it runs.
public struct BroadcastContext: Sendable {
    /// The worker's index, `0..<threadCount`.
    public let index: Int
    /// The number of workers (and so of calls).
    public let threadCount: Int
}

/// One worker's part of a broadcast: calls the caller's closure through a pointer into the
/// caller's frame, valid because the caller waits for every part.
// @safe: `run` points into the broadcasting frame, which waits on `latch` for every part.
@safe
final class BroadcastJob: HeapJob, @unchecked Sendable {  // immutable; `run` points into a frame that outlives the job
    let run: UnsafePointer<(Int) -> Void>
    let index: Int
    let latch: CountLatch

    init(run: UnsafePointer<(Int) -> Void>, index: Int, family: Int, latch: CountLatch) {
        // SAFETY: `run` points into the broadcasting frame, which waits on `latch` for every part.
        unsafe self.run = run
        self.index = index
        self.latch = latch
        super.init(family: family, isBackground: false)
    }

    override func execute() {
        // SAFETY: the broadcasting frame is still waiting on `latch`, decremented only after this call.
        unsafe run.pointee(index)
        latch.decrement()
    }
}

extension ThreadPool {
    /// Runs `body` once on every worker of the pool and returns the results in worker order.
    ///
    /// ```swift
    /// let ids = pool.broadcast { context in context.index }   // [0, 1, …, threadCount - 1]
    /// ```
    ///
    /// Useful to initialise per-thread state. Each part is foreground work queued for one worker;
    /// the call returns when all parts have run.
    /// - Throws: the first error (in worker order) after every part has finished.
    /// - Precondition: the pool is not shut down (it has no workers left to run the parts on).
    public func broadcast<T: Sendable, E: Error>(
        _ body: @Sendable (BroadcastContext) throws(E) -> T
    ) throws(E) -> [T] {
        try _withParticipant { (me) throws(E) in try runBroadcast(on: me, body) }
    }

    private func runBroadcast<T: Sendable, E: Error>(
        on me: LivePointer<Participant>,
        _ body: @Sendable (BroadcastContext) throws(E) -> T
    ) throws(E) -> [T] {
        // Room for every worker slot; the number of workers is read under the lifecycle lock
        // (a concurrent `resize` changes it under the same lock).
        var results = [Result<T, E>?](repeating: nil, count: registry.maxWorkers)
        var n = 0
        // SAFETY: `slots` and `run` point into this frame, which waits on the latch for every part; each part writes only its own slot.
        unsafe results.withUnsafeMutableBufferPointer { slots in
            // Each part writes only its own slot; the latch's decrement publishes it.
            let part: (Int) -> Void = { index in
                unsafe slots[index] = Result { () throws(E) -> T in try body(BroadcastContext(index: index, threadCount: n)) }
            }
            withoutActuallyEscaping(part) { escapingPart in
                unsafe withUnsafePointer(to: escapingPart) { run in
                    let latch = CountLatch(ownerParker: me.pointee.parker)
                    registry.shareCancellationSource(of: me)
                    let admitted = registry.lifecycleLock.withLock { () -> Bool in
                        n = registry.workerCount  // read before the parts exist; the inbox lock publishes it
                        guard !registry.isShutDown else { return false }
                        for index in 0..<n {
                            latch.increment()
                            let job = unsafe BroadcastJob(run: run, index: index, family: me.pointee.family, latch: latch)
                            registry.participant(at: index).pointee.inbox.push(JobRef(heap: job))
                        }
                        return true
                    }
                    // Running the parts on the caller instead would hand them worker indices that
                    // no worker has: per-worker state set up that way would be wrong.
                    precondition(admitted, "ThreadPool.broadcast called on a shut-down pool: it has no workers to run the parts on")
                    registry.sleep.notifyEveryWorker(count: n)
                    latch.decrement()  // the owner's token
                    registry.wait(for: latch, on: me)
                }
            }
        }
        return try results[0..<n].map { (r) throws(E) -> T in try r!.get() }
    }
}
