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

    /// Runs the whole fold on participant `me` (the calling thread).
    @inlinable
    func run(count: Int, strategy: SplitStrategy, threads: Int, on me: LivePointer<Participant>) -> Partial {
        var partial = identity()
        switch strategy.kind {
        case .adaptive:
            foldAdaptively(0, count, &partial, on: me)
        case .evenly:
            partial = foldEvenly(0, count, pieces: Swift.max(1, Swift.min(threads, count)), on: me)
        case .chunks(let size):
            partial = foldInChunks(0, count, size: size, on: me)
        }
        return partial
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
    @inlinable
    func _runFold<Partial: Sendable>(
        control: _ParallelControl,
        identity: @escaping @Sendable () -> Partial,
        fold: @escaping @Sendable (inout Partial, Range<Int>) -> Void,
        combine: @escaping @Sendable (Partial, Partial) -> Partial
    ) -> Partial {
        let count = _positionCount
        let run = _FoldRun(control: control, identity: identity, fold: fold, combine: combine)
        if count <= 1 {
            // Nothing to divide: no pool involved.
            var partial = identity()
            if count == 1 { fold(&partial, 0..<1) }
            return partial
        }
        let pool = _options.pool ?? ThreadPool.currentOrShared
        let strategy = _options.strategy
        return pool._withParticipant { me in
            run.run(count: count, strategy: strategy, threads: pool.threadCount, on: me)
        }
    }
}
