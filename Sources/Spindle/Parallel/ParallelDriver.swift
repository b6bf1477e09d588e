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
    /// The same fold for code that calls it as a stored closure (a thief's piece, first-come
    /// items): through the terminal's range loop, which is the inlined loop when the pipeline's
    /// closures let it specialise (RangeLoop.swift); nil when the terminal has none. `fold` is
    /// for the calling thread, where it inlines with the pipeline's closures in sight.
    ///
    /// Optional, and never replaced by `fold` on the calling thread's path: a `??` there made two
    /// reabstraction thunks, two allocations per terminal call (`map-sum-captured-100`).
    @usableFromInline let stolenFold: (@Sendable (inout Partial, Range<Int>) -> Void)?
    @usableFromInline let combine: @Sendable (Partial, Partial) -> Partial

    @inlinable
    init(
        control: _ParallelControl,
        identity: @escaping @Sendable () -> Partial,
        fold: @escaping @Sendable (inout Partial, Range<Int>) -> Void,
        stolenFold: (@Sendable (inout Partial, Range<Int>) -> Void)?,
        combine: @escaping @Sendable (Partial, Partial) -> Partial
    ) {
        self.control = control
        self.identity = identity
        self.fold = fold
        self.stolenFold = stolenFold
        self.combine = combine
    }

    /// This fold as a thread that did not start it runs it: `stolenFold` in place of `fold`.
    @inlinable
    var forThief: _FoldRun {
        guard let stolenFold else { return self }
        return _FoldRun(control: control, identity: identity, fold: stolenFold, stolenFold: nil, combine: combine)
    }

    /// Folds `positions` into `partial` as a stored closure: through `stolenFold` if there is one.
    @inlinable
    func foldStored(_ partial: inout Partial, _ positions: Range<Int>) {
        if let stolenFold {
            stolenFold(&partial, positions)
        } else {
            fold(&partial, positions)
        }
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

    /// Runs the fold of positions `lo..<hi` on participant `me` (the calling thread), starting
    /// from `initial` (the leftmost partial result: a `reduce`'s initial value is applied once,
    /// at the left).
    @inlinable
    @inline(__always)
    func run(
        _ lo: Int, _ hi: Int, initial: Partial, strategy: SplitStrategy, threads: Int, on me: LivePointer<Participant>
    ) -> Partial {
        let count = hi - lo
        switch strategy.kind {
        case .adaptive:
            var partial = initial
            foldAdaptively(lo, hi, &partial, on: me)
            return partial
        case .evenly:
            return combine(initial, foldEvenly(lo, hi, pieces: Swift.max(1, Swift.min(threads, count)), on: me))
        case .chunks(let size):
            if count / size < Self.queuedItemsLimit {
                // Few chunks: first come, first served.
                return combine(initial, foldFirstCome(lo, hi, itemSize: size, threads: threads, on: me))
            }
            return combine(initial, foldInHalves(lo, hi, leafSize: size, atLeafBoundaries: false, on: me))
        case .deterministic(let leafSize):
            return combine(initial, foldInHalves(lo, hi, leafSize: leafSize, atLeafBoundaries: true, on: me))
        }
    }

    /// The fold of a bridged sequence (`ParallelBridge`), window by window, left to right, the
    /// partial result carried from one to the next. An adaptive window is handed out as queued
    /// items with a helper per other thread (`foldQueuedItems`); a fixed strategy's window is
    /// folded by `run`, as the published half of a join. Either way, this thread reads the next
    /// window while idle workers start on this one: the sequence
    /// is only ever read on the terminal's own thread, so a sequence whose closures are isolated
    /// to the caller's actor (a `lazy.map` written on the main actor) is read where it may be.
    /// Once read, this thread helps with the fold. Stops reading once the loop stopped (an error,
    /// a `contains` hit) or a `first(where:)` hit lies before the next window.
    @inlinable
    @inline(never)
    func runWindows(
        of bridge: _SequenceBridgeBase, initial: Partial, strategy: SplitStrategy, threads: Int, on me: LivePointer<Participant>
    ) -> Partial {
        bridge.beginRun()
        defer { bridge.endRun() }
        var partial = initial
        bridge.readNextWindow()  // the first window: nothing to overlap it with
        while let window = bridge.showNextWindow() {
            if control.shouldStop(at: window) { break }
            let readNext = { if !control.shouldStop(at: window) { bridge.readNextWindow() } }
            if case .adaptive = strategy.kind {
                // First come, first served, in items of about 1/8 of a thread's share: helpers
                // start at once, while this thread reads, and the window's last item is short.
                let itemCount = Swift.min(threads * Self.windowItemsPerThread, Self.queuedItemsLimit)
                let itemSize = Swift.max(1, (window.count + itemCount - 1) / itemCount)
                let items = foldFirstCome(
                    window.lowerBound, window.upperBound, itemSize: itemSize, threads: threads, on: me, beforeClaiming: readNext)
                partial = combine(partial, items)
            } else {
                // A fixed split (`.deterministic`, chunks): the window is one range, divided by
                // the strategy alone, so the tree depends only on the window sizes.
                let start = partial
                (_, partial) = ThreadPool._joinPublished(
                    on: me, readNext,
                    { [self] in
                        // SAFETY: as in `foldAdaptively`: a join half runs on a participant.
                        unsafe run(
                            window.lowerBound, window.upperBound, initial: start, strategy: strategy, threads: threads,
                            on: Participant.current.unsafelyUnwrapped)
                    })
            }
        }
        return partial
    }

    /// The adaptive fold of `lo..<hi` into `partial`, on participant `me`.
    ///
    /// On the calling thread this function and the terminal around it inline into the
    /// terminal's caller, where every stage's closure is a known literal: its share of the loop
    /// is then the loop a user would write (direct calls, vectorisable). A thread that takes a
    /// piece runs it here too, from `_PieceContext.run`, where `fold` is a stored closure: an
    /// indirect call per element for a pipeline with closures.
    ///
    /// The range is folded in growing batches (`foldBatches`); a heartbeat that finds a hungry
    /// thread publishes the upper half of what remains as a *piece*. At the end of its range
    /// the fold takes back its newest piece: unstolen, its positions follow on from the ones
    /// just folded, so the same partial result goes on through them; stolen, the thief's
    /// result is combined on the right. Pieces come back newest first, which is position order.
    ///
    /// While it waits for a stolen piece, the fold *claims* pieces of the same loop that other
    /// threads (or this one) published, and folds them here, in this same code: on the
    /// calling thread that is the inlined code, so the faster code takes the larger share of a
    /// loop whose stolen part runs slower. A claimed piece gets a frame of its own (its partial
    /// result, its own pieces above `pieceBase`), pushed on `outer`; when its range and pieces
    /// are done, its result completes its job (as a thief's would) and the frame below resumes.
    /// One loop handles every frame, so the code inlines without recursion.
    @inlinable
    @inline(__always)
    func foldAdaptively(_ lo: Int, _ hi: Int, _ partial: inout Partial, on me: LivePointer<Participant>) {
        var lo = lo
        var hi = hi
        var batch = 1
        var pieces = _PublishedPieces<Partial>()
        var pieceBase = 0  // pieces below it belong to the frames in `outer`
        var claimedJob: LivePointer<StackJob>? = nil  // the current frame's, if claimed
        var outer: [_ClaimFrame<Partial>] = []
        // Workers asleep: no heartbeat will come to split this range, since a beat needs a
        // hungry participant and a parked worker is not one (Scheduler/README.md §2, *sleepers
        // and loops*). So the upper half is published at once; the publication wakes a
        // sleeper, and that thief's fold (this code again) does the same for the next one.
        if hi - lo >= 2, ThreadPool._hasSleepingWorkers(on: me) {
            let mid = lo + (hi - lo) / 2
            if pieces.publish(mid..<hi, of: self, on: me) { hi = mid }
        }
        while true {
            foldBatches(&lo, &hi, &batch, &partial, &pieces, on: me)
            if pieces.count > pieceBase {
                switch pieces.takeBackNewest(on: me, claimingPiecesOf: control) {
                case .notStolen(let positions):
                    lo = positions.lowerBound
                    hi = positions.upperBound
                case .stolen(let piece):
                    partial = combine(partial, piece)
                case .claimed(let job, _, let queue?):
                    // A helper of a first-come loop: take its items here.
                    claimQueuedItems(queue)
                    _PublishedPieces<Partial>.complete(job, with: identity())
                case .claimed(let job, let positions, nil):
                    outer.append(_ClaimFrame(partial: partial, pieceBase: pieceBase, job: claimedJob))
                    partial = identity()
                    pieceBase = pieces.count
                    claimedJob = job
                    lo = positions.lowerBound
                    hi = positions.upperBound
                    batch = 1
                }
                continue
            }
            guard let job = claimedJob else { break }
            _PublishedPieces<Partial>.complete(job, with: partial)
            let frame = outer.removeLast()
            partial = frame.partial
            pieceBase = frame.pieceBase
            claimedJob = frame.job
        }
        pieces.deallocate()
    }

    /// Folds `lo..<hi` in batches (of 1 position, doubling up to `adaptiveBatch`) until it is
    /// done, or the loop stops (`lo` is then set to `hi`). At a heartbeat that finds a hungry
    /// thread and nothing of this thread's left to steal, publishes the upper half of what
    /// remains as a piece and shortens the range to the lower half; or, with at most
    /// `queuedItemsLimit` positions left, hands them out one by one (`foldQueuedItems`), so that
    /// the last few (and, in a short loop, all of a few expensive) items are not kept together.
    @inlinable
    @inline(__always)
    func foldBatches(
        _ lo: inout Int, _ hi: inout Int, _ batch: inout Int, _ partial: inout Partial,
        _ pieces: inout _PublishedPieces<Partial>, on me: LivePointer<Participant>
    ) {
        while lo < hi {
            if control.shouldStop(at: lo..<hi) {
                lo = hi
                return
            }
            if _slowPath(me.pointee.heartbeatIsDue) {
                // Clears the flag. A hungry thread and nothing of this thread's left to steal: split.
                if ThreadPool._answerHeartbeat(on: me) && hi - lo >= 2 {
                    if hi - lo <= Self.queuedItemsLimit {
                        // Few positions left: hand them out one by one rather than in halves.
                        // (A result, not `&partial`: an address taken here would keep the
                        // running partial in memory through the whole loop.)
                        partial = combine(partial, foldQueuedItems(lo, hi, itemSize: 1, helpers: 1, &pieces, on: me))
                        lo = hi
                        return
                    }
                    let mid = lo + (hi - lo) / 2
                    if pieces.publish(mid..<hi, of: self, on: me) { hi = mid }
                }
            }
            let end = hi - lo > batch ? lo + batch : hi
            fold(&partial, lo..<end)
            lo = end
            if batch < Self.adaptiveBatch { batch &*= 2 }
        }
    }

    /// The most items a fold hands out one by one (`_ItemQueue`) rather than in halves: what
    /// remains of an adaptive range at a heartbeat, or the chunks of a short `.chunks` loop.
    @inlinable
    static var queuedItemsLimit: Int { 32 }

    /// Items per thread of a bridged sequence's window (`runWindows`): the window's last item,
    /// which the others may wait for, is at most an eighth of a thread's share.
    @inlinable
    static var windowItemsPerThread: Int { 8 }

    /// A first-come loop of its own (`foldQueuedItems` on pieces of its own), with a helper for
    /// every other thread (every worker, when the caller is an outside thread); `first` runs on
    /// this thread once the helpers are published, before it claims items.
    @inlinable
    func foldFirstCome(
        _ lo: Int, _ hi: Int, itemSize: Int, threads: Int, on me: LivePointer<Participant>,
        beforeClaiming first: () -> Void = {}
    ) -> Partial {
        var pieces = _PublishedPieces<Partial>()
        let helpers = me.pointee.isWorker ? threads - 1 : threads
        let items = foldQueuedItems(lo, hi, itemSize: itemSize, helpers: helpers, &pieces, on: me, beforeClaiming: first)
        pieces.deallocate()
        return items
    }

    /// Folds `lo..<hi`, in items of `itemSize` positions, first come first served: this thread
    /// and the helpers it publishes (`helpers` now, one more at each heartbeat that finds a
    /// hungry thread while items are left) each take the next item. Once the items are all
    /// taken, takes its helpers back (unstarted ones are dropped, running ones waited for) and
    /// returns the items' results combined in position order, from `identity()`.
    ///
    /// Not inlined, and the fold is called as a stored closure (`foldStored`): this serves few,
    /// costly items.
    @inlinable
    @inline(never)
    func foldQueuedItems(
        _ lo: Int, _ hi: Int, itemSize: Int, helpers: Int,
        _ pieces: inout _PublishedPieces<Partial>, on me: LivePointer<Participant>,
        beforeClaiming first: () -> Void = {}
    ) -> Partial {
        let queue = _ItemQueue<Partial>(lo: lo, hi: hi, itemSize: itemSize)
        let base = pieces.count
        var published = 0
        while published < Swift.min(helpers, queue.itemCount - 1) && pieces.publish(hi..<hi, of: self, queue: queue, on: me) {
            published += 1
        }
        first()
        while let (item, positions) = queue.claim() {
            if control.shouldStop(at: positions) { continue }
            var result = identity()
            foldStored(&result, positions)  // a stored closure here: see the doc comment
            queue.store(result, for: item)
            if _slowPath(me.pointee.heartbeatIsDue) {
                if ThreadPool._answerHeartbeat(on: me) && queue.hasUnclaimedItems {
                    _ = pieces.publish(hi..<hi, of: self, queue: queue, on: me)
                }
            }
        }
        // A helper's positions are empty and its result is `identity()`: only its items count.
        while pieces.count > base { _ = pieces.takeBackNewest(on: me) }
        var items = identity()
        queue.combineResults(into: &items, combine)
        return items
    }

    /// A helper's part of a first-come loop: claims items until none is left.
    @inlinable
    func claimQueuedItems(_ queue: _ItemQueue<Partial>) {
        while let (item, positions) = queue.claim() {
            if control.shouldStop(at: positions) { continue }
            var result = identity()
            foldStored(&result, positions)
            queue.store(result, for: item)
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
            { [thief = forThief] in
                // SAFETY: as in `foldAdaptively`: a join half runs on a participant.
                unsafe thief.foldEvenly(mid, hi, pieces: pieces - leftPieces, on: Participant.current.unsafelyUnwrapped)
            })
        return combine(left, right)
    }

    /// Halves `lo..<hi` down to pieces of at most `leafSize` positions, each halving an ordinary
    /// `join`, and folds each piece from `identity()`: `.chunks(of:)` and `.deterministic`.
    ///
    /// `atLeafBoundaries` is the fixed tree of `SplitStrategy.deterministic(leafSize:)`: a range
    /// of `k` leaves of `leafSize` positions (the last one shorter, `lo` at a leaf boundary) is
    /// split after `k / 2` leaves, so the tree, and with it every `combine` and its operands,
    /// depends only on the length. Otherwise the split is at the middle position.
    @inlinable
    func foldInHalves(_ lo: Int, _ hi: Int, leafSize: Int, atLeafBoundaries: Bool, on me: LivePointer<Participant>) -> Partial {
        if hi - lo <= leafSize {
            var partial = identity()
            foldPiece(lo, hi, &partial)
            return partial
        }
        // The leaf count only for the fixed tree: `.perItem` halves once per element.
        let mid: Int
        if atLeafBoundaries {
            let leaves = (hi - lo) / leafSize + ((hi - lo) % leafSize == 0 ? 0 : 1)  // no overflow for any leaf size
            mid = lo + (leaves / 2) * leafSize
        } else {
            mid = lo + (hi - lo) / 2
        }
        let (left, right) = ThreadPool._join(
            on: me,
            {
                foldInHalves(lo, mid, leafSize: leafSize, atLeafBoundaries: atLeafBoundaries, on: me)
            },
            { [thief = forThief] in
                // SAFETY: as in `foldAdaptively`: a join half runs on a participant.
                unsafe thief.foldInHalves(
                    mid, hi, leafSize: leafSize, atLeafBoundaries: atLeafBoundaries, on: Participant.current.unsafelyUnwrapped)
            })
        return combine(left, right)
    }

    /// Folds a fixed piece, looking at the stop flag between batches.
    @inlinable
    func foldPiece(_ lo: Int, _ hi: Int, _ partial: inout Partial) {
        var lo = lo
        while lo < hi {
            if control.shouldStop(at: lo..<hi) { return }
            let end = hi - lo > Self.stopCheckBatch ? lo + Self.stopCheckBatch : hi
            fold(&partial, lo..<end)
            lo = end
        }
    }
}

/// A claimed piece's fold, suspended frame by frame (see `_FoldRun.foldAdaptively`): the
/// partial result of the frame below, where its pieces start, and the job it completes.
@usableFromInline
struct _ClaimFrame<Partial> {
    @usableFromInline let partial: Partial
    @usableFromInline let pieceBase: Int
    @usableFromInline let job: LivePointer<StackJob>?

    @inlinable
    init(partial: Partial, pieceBase: Int, job: LivePointer<StackJob>?) {
        self.partial = partial
        self.pieceBase = pieceBase
        self.job = job
    }
}

extension ParallelSequence {
    /// Runs a fold over all positions on the pipeline's pool, from the calling thread (which
    /// takes part, as a worker or as a temporary outside participant).
    ///
    /// `initial` is the leftmost partial result (the calling thread's, which starts at position
    /// 0); `identity` starts every other piece. `fold` is called directly on the calling thread
    /// (inlined into the caller: see `_FoldRun.foldAdaptively`); `stolenFold` (the same fold
    /// through the terminal's range loop; `fold` if nil) as a stored closure by pieces that run
    /// elsewhere.
    @inlinable
    @inline(__always)
    func _runFold<Partial: Sendable>(
        control: _ParallelControl,
        initial: Partial,
        identity: @escaping @Sendable () -> Partial,
        fold: @escaping @Sendable (inout Partial, Range<Int>) -> Void,
        stolenFold: (@Sendable (inout Partial, Range<Int>) -> Void)? = nil,
        combine: @escaping @Sendable (Partial, Partial) -> Partial
    ) -> Partial {
        let run = _FoldRun(control: control, identity: identity, fold: fold, stolenFold: stolenFold, combine: combine)
        if let bridge = _bridge {
            // An ordinary sequence, read window by window (nil, and folded away, for every
            // pipeline over a collection).
            let pool = _options.pool ?? ThreadPool.currentOrShared
            return pool._withParticipant { me in
                run.runWindows(of: bridge, initial: initial, strategy: _options.strategy, threads: pool.threadCount, on: me)
            }
        }
        let count = _positionCount
        if count <= 1 {
            // Nothing to divide: no pool involved.
            var partial = initial
            if count == 1 { fold(&partial, 0..<1) }
            return partial
        }
        let pool = _options.pool ?? ThreadPool.currentOrShared
        let strategy = _options.strategy
        // Not `_withParticipant`: the fold must inline here, not into a closure of its own
        // (whose captures the optimiser would no longer see through). And one call of `run`
        // for both kinds of caller: with two, the optimiser inlined only one of them.
        let member = Participant.current(in: pool.registryID)
        let entry = member == nil ? pool._enterAsOutsider() : nil
        // SAFETY: `entry` is set exactly when `member` is nil.
        let me = unsafe member ?? entry.unsafelyUnwrapped.participant
        let result = run.run(0, count, initial: initial, strategy: strategy, threads: pool.threadCount, on: me)
        if let entry { pool._exitAsOutsider(entry) }
        return result
    }
}
