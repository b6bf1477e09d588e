import Synchronization

/// The engine under every terminal: divides base positions `0..<n` among threads by the
/// pipeline's split strategy, folds each range into a partial result, and combines the partial
/// results in position order.

/// One parallel fold: how to start a partial result, fold a range of positions into it, and
/// combine two (left before right).
@usableFromInline
struct _FoldRun<Partial: Sendable>: Sendable {
    @usableFromInline let control: _ParallelControl
    @usableFromInline let identity: @Sendable () -> Partial
    @usableFromInline let fold: @Sendable (inout Partial, Range<Int>) -> Void
    @usableFromInline let combine: @Sendable (Partial, Partial) -> Partial

    @inlinable
    init(
        control: _ParallelControl,
        identity: @escaping @Sendable () -> Partial,
        fold: @escaping @Sendable (inout Partial, Range<Int>) -> Void,
        combine: @escaping @Sendable (Partial, Partial) -> Partial
    ) {
        self.control = control
        self.identity = identity
        self.fold = fold
        self.combine = combine
    }

    /// The most positions an adaptive range folds between two looks at its heartbeat flag. A
    /// range starts with batches of one position and doubles them up to this: a loop of a few
    /// expensive items looks at the flag after each item, a loop of many cheap ones soon runs
    /// tight (vectorisable) batches of 512.
    @inlinable
    static var adaptiveBatch: Int { 512 }

    /// Positions a fixed-size piece folds between two looks at the stop flag.
    @inlinable
    static var stopCheckBatch: Int { 1_024 }

    /// Runs the whole fold on participant `me` (the calling thread), starting from `initial`
    /// (the leftmost partial result: a `reduce`'s initial value is applied once, at the left).
    @inlinable
    @inline(__always)
    func run(
        count: Int, initial: Partial, strategy: SplitStrategy, threads: Int, on me: LivePointer<Participant>
    ) -> Partial {
        switch strategy.kind {
        case .adaptive:
            var partial = initial
            foldAdaptivelyInline(count, &partial, on: me)
            return partial
        case .evenly:
            return combine(initial, foldEvenly(0, count, pieces: Swift.max(1, Swift.min(threads, count)), on: me))
        case .chunks(let size):
            return combine(initial, foldInChunks(0, count, size: size, on: me))
        }
    }

    /// The adaptive fold of `0..<count` on the calling thread, with `fold` called directly.
    ///
    /// This function and the terminal around it inline into the terminal's caller, where every
    /// stage's closure is a known literal: the calling thread's share of the loop is then the
    /// loop a user would write (direct calls, vectorisable). Pieces that other threads take run
    /// through `foldAdaptively`, which calls `fold` as a stored closure.
    ///
    /// Like `foldAdaptively`, it folds in growing batches and answers heartbeats; a heartbeat
    /// that finds a hungry thread publishes the upper half of what remains as a *piece* and
    /// goes on with the lower half. At the end of its range it takes back the newest piece:
    /// unstolen, its positions follow on from the ones just folded, so the same partial result
    /// goes on through them; stolen, the thief's result is combined on the right. Pieces are
    /// taken back newest first, which is position order.
    @inlinable
    @inline(__always)
    func foldAdaptivelyInline(_ count: Int, _ partial: inout Partial, on me: LivePointer<Participant>) {
        var lo = 0
        var hi = count
        var batch = 1
        var pieces = _PublishedPieces<Partial>()
        while true {
            while lo < hi {
                if control.shouldStop(at: lo) { break }
                if _slowPath(me.pointee.heartbeatIsDue) {
                    // Clears the flag. A hungry thread and nothing of this thread's left to steal: split.
                    if ThreadPool._answerHeartbeat(on: me) && hi - lo >= 2 {
                        let mid = lo + (hi - lo) / 2
                        if pieces.publish(mid..<hi, of: self, on: me) { hi = mid }
                    }
                }
                let end = hi - lo > batch ? lo + batch : hi
                fold(&partial, lo..<end)
                lo = end
                if batch < Self.adaptiveBatch { batch &*= 2 }
            }
            if pieces.isEmpty { break }
            switch pieces.takeBackNewest(on: me) {
            case .notStolen(let positions):
                lo = positions.lowerBound
                hi = positions.upperBound
            case .stolen(let piece):
                partial = combine(partial, piece)
                lo = hi
            }
        }
        pieces.deallocate()
    }

    /// Folds `lo..<hi` sequentially, in batches, until a heartbeat finds this thread: then, unless
    /// this thread's deque still holds work for thieves (older, larger pieces: taken first), the
    /// rest of the range is split in two and the upper half published for a thief at once.
    @inlinable
    func foldAdaptively(_ lo: Int, _ hi: Int, _ partial: inout Partial, on me: LivePointer<Participant>) {
        var lo = lo
        var batch = 1
        while lo < hi {
            if control.shouldStop(at: lo) { return }
            if _slowPath(me.pointee.heartbeatIsDue) {
                // Clears the flag. A hungry thread and nothing of this thread's left to steal: split.
                if ThreadPool._answerHeartbeat(on: me) && hi - lo >= 2 {
                    let mid = lo + (hi - lo) / 2
                    let current = lo
                    let (_, right) = ThreadPool._joinPublished(
                        on: me,
                        {
                            foldAdaptively(current, mid, &partial, on: me)
                        },
                        { [self] in
                            var right = identity()
                            // On a thief, or inline on this thread: whoever runs it is a participant.
                            // SAFETY: whoever runs a join half of this pool is its participant (thief or this thread), so `current` is set.
                            unsafe foldAdaptively(mid, hi, &right, on: Participant.current.unsafelyUnwrapped)
                            return right
                        })
                    partial = combine(partial, right)
                    return
                }
            }
            let end = hi - lo > batch ? lo + batch : hi
            fold(&partial, lo..<end)
            lo = end
            if batch < Self.adaptiveBatch { batch &*= 2 }
        }
    }

    /// `pieces` ranges of (almost) equal size, all published at once.
    @inlinable
    func foldEvenly(_ lo: Int, _ hi: Int, pieces: Int, on me: LivePointer<Participant>) -> Partial {
        if pieces <= 1 {
            var partial = identity()
            foldPiece(lo, hi, &partial)
            return partial
        }
        let leftPieces = pieces / 2
        let mid = lo + (hi - lo) * leftPieces / pieces
        let (left, right) = ThreadPool._joinPublished(
            on: me,
            {
                foldEvenly(lo, mid, pieces: leftPieces, on: me)
            },
            { [self] in
                // SAFETY: as in `foldAdaptively`: a join half runs on a participant.
                unsafe foldEvenly(mid, hi, pieces: pieces - leftPieces, on: Participant.current.unsafelyUnwrapped)
            })
        return combine(left, right)
    }

    /// Halves down to pieces of at most `size` positions; each halving is an ordinary `join`.
    @inlinable
    func foldInChunks(_ lo: Int, _ hi: Int, size: Int, on me: LivePointer<Participant>) -> Partial {
        if hi - lo <= size {
            var partial = identity()
            foldPiece(lo, hi, &partial)
            return partial
        }
        let mid = lo + (hi - lo) / 2
        let (left, right) = ThreadPool._join(
            on: me,
            {
                foldInChunks(lo, mid, size: size, on: me)
            },
            { [self] in
                // SAFETY: as in `foldAdaptively`: a join half runs on a participant.
                unsafe foldInChunks(mid, hi, size: size, on: Participant.current.unsafelyUnwrapped)
            })
        return combine(left, right)
    }

    /// Folds a fixed piece, looking at the stop flag between batches.
    @inlinable
    func foldPiece(_ lo: Int, _ hi: Int, _ partial: inout Partial) {
        var lo = lo
        while lo < hi {
            if control.shouldStop(at: lo) { return }
            let end = hi - lo > Self.stopCheckBatch ? lo + Self.stopCheckBatch : hi
            fold(&partial, lo..<end)
            lo = end
        }
    }
}

extension ParallelSequence {
    /// Runs a fold over all positions on the pipeline's pool, from the calling thread (which
    /// takes part, as a worker or as a temporary outside participant).
    ///
    /// `initial` is the leftmost partial result (the calling thread's, which starts at position
    /// 0); `identity` starts every other piece. `fold` is called directly on the calling thread
    /// (inlined into the caller: see `_FoldRun.foldAdaptivelyInline`) and as a stored closure
    /// by pieces that run elsewhere.
    @inlinable
    @inline(__always)
    func _runFold<Partial: Sendable>(
        control: _ParallelControl,
        initial: Partial,
        identity: @escaping @Sendable () -> Partial,
        fold: @escaping @Sendable (inout Partial, Range<Int>) -> Void,
        combine: @escaping @Sendable (Partial, Partial) -> Partial
    ) -> Partial {
        let count = _positionCount
        let run = _FoldRun(control: control, identity: identity, fold: fold, combine: combine)
        if count <= 1 {
            // Nothing to divide: no pool involved.
            var partial = initial
            if count == 1 { fold(&partial, 0..<1) }
            return partial
        }
        let pool = _options.pool ?? ThreadPool.currentOrShared
        let strategy = _options.strategy
        // Not `_withParticipant`: the fold must inline here, not into a closure of its own
        // (whose captures the optimiser would no longer see through).
        if let me = Participant.current(in: pool.registryID) {
            return run.run(count: count, initial: initial, strategy: strategy, threads: pool.threadCount, on: me)
        }
        let entry = pool._enterAsOutsider()
        let result = run.run(
            count: count, initial: initial, strategy: strategy, threads: pool.threadCount, on: entry.participant)
        pool._exitAsOutsider(entry)
        return result
    }
}
