/// The pieces an adaptive fold (`_FoldRun.foldAdaptively`) has split off its range
/// at heartbeats and published for thieves: a stack, newest on top.
///
/// Each piece is a `StackJob` whose context holds the fold and the piece's positions. The
/// pieces are nested halves: the newest lies just right of the range the fold is working on,
/// each older one right of the newer, so taking them back newest first is position order.
/// Every push halves what remains of the fold's range, so a stack of `capacity` (64) holds
/// every piece of a range of up to 2^63 positions; when it is full the fold simply does not
/// split.
///
/// Lifetime: the jobs and contexts live in buffers allocated at the first publish (a heartbeat
/// split, so at most once per fold per heartbeat period: nothing is allocated for a fold that
/// never splits) and freed by `deallocate()` after every piece has been taken back, that is
/// after each stolen piece's thief has set `done` (`Registry.takeBackJob` waits for it). The
/// protocol of a published job is the join's: Scheduler/README.md §3.
// @safe: the buffers are owned here; each slot below `count` holds an initialised job and context.
@safe
@usableFromInline
struct _PublishedPieces<Partial: Sendable>: ~Copyable {
    @usableFromInline var jobs: UnsafeMutablePointer<StackJob>?
    @usableFromInline var contexts: UnsafeMutablePointer<_PieceContext<Partial>>?
    /// Published pieces not yet taken back: slots `0..<count`, the newest at `count - 1`.
    @usableFromInline var count: Int

    @inlinable
    static var capacity: Int { 64 }

    @inlinable
    init() {
        // SAFETY: no buffer yet; `publish` allocates both before the first use.
        unsafe jobs = nil
        unsafe contexts = nil
        count = 0
    }

    @inlinable
    var isEmpty: Bool { count == 0 }

    /// Publishes `positions` as a piece for thieves, on participant `me` (the fold's thread).
    /// Returns false, publishing nothing, if the stack is full.
    @inlinable
    @inline(never)
    mutating func publish(
        _ positions: Range<Int>, of run: _FoldRun<Partial>, queue: _ItemQueue<Partial>? = nil,
        on me: LivePointer<Participant>
    ) -> Bool {
        if count == Self.capacity { return false }
        // SAFETY: both buffers are allocated once, with `capacity` slots, and freed in `deallocate`.
        if unsafe jobs == nil {
            unsafe jobs = UnsafeMutablePointer<StackJob>.allocate(capacity: Self.capacity)
            unsafe contexts = UnsafeMutablePointer<_PieceContext<Partial>>.allocate(capacity: Self.capacity)
        }
        // SAFETY: `count < capacity`, so the slot is in both buffers, and it is free (slots at and
        // above `count` are uninitialised). The job stays alive until `takeBackNewest` has taken
        // it back or waited for its thief.
        let context = unsafe contexts.unsafelyUnwrapped + count
        unsafe context.initialize(to: _PieceContext(run: run, positions: positions, queue: queue))
        let job = unsafe LivePointer(unchecked: jobs.unsafelyUnwrapped + count)
        unsafe job.base.initialize(
            to: StackJob(
                context: UnsafeMutableRawPointer(context), runner: _PieceContext<Partial>.self,
                family: me.pointee.family, ownerParker: me.pointee.parker, depth: me.pointee.joinDepth))
        job.pointee.leftWindow = true  // published, never in the offer window (as `_joinPublished`)
        ThreadPool._publishJob(job, on: me)
        count &+= 1
        return true
    }

    /// Takes back the newest piece: its positions if no thief took it (the caller folds them
    /// itself), else the thief's result, after waiting for the thief (helping meanwhile).
    ///
    /// - Precondition: `!isEmpty`.
    @inlinable
    @inline(never)
    mutating func takeBackNewest(on me: LivePointer<Participant>) -> _TakenPiece<Partial> {
        // SAFETY: slot `count - 1` (the newest) holds an initialised job (see the type).
        let job = unsafe LivePointer(unchecked: jobs.unsafelyUnwrapped + (count &- 1))
        let stolen = !ThreadPool._takeBackJob(job, on: me)
        return popNewest(stolen: stolen)
    }

    /// Takes back the newest piece: its positions if no thief took it (the caller folds them
    /// itself), else the thief's result, after waiting for the thief. While it waits, it helps
    /// with related work, except that it hands back (`.claimed`) the first piece of the same
    /// loop it finds (a thief's, or an older one of this thread's): the caller folds it,
    /// completes it with `complete(_:with:)`, and calls this again.
    ///
    /// - Precondition: `!isEmpty`.
    @inlinable
    @inline(never)
    mutating func takeBackNewest(
        on me: LivePointer<Participant>, claimingPiecesOf control: _ParallelControl
    ) -> _TakenPiece<Partial> {
        // SAFETY: slot `count - 1` (the newest) holds an initialised job (see the type).
        let job = unsafe LivePointer(unchecked: jobs.unsafelyUnwrapped + (count &- 1))
        // After a claimed piece, the newest is looked for on the deque again (it is not there:
        // a pop and a push back).
        if ThreadPool._reclaimJob(job, on: me) { return popNewest(stolen: false) }
        let claimed = ThreadPool._waitForStolenJob(
            job, on: me,
            claiming: { candidate in
                // A stolen job is its thief's to read (its owner waits for `done`): the runner
                // says whether it is a piece, the context's control whether of this loop.
                guard ObjectIdentifier(candidate.pointee.runner) == ObjectIdentifier(_PieceContext<Partial>.self)
                else { return false }
                // SAFETY: the runner says the context is a `_PieceContext<Partial>`, alive until
                // the job is completed.
                let context = unsafe candidate.pointee.context.assumingMemoryBound(to: _PieceContext<Partial>.self)
                return unsafe context.pointee.run.control === control
            })
        if let claimed {
            // SAFETY: as in the classifier above: a live `_PieceContext<Partial>`.
            let context = unsafe claimed.pointee.context.assumingMemoryBound(to: _PieceContext<Partial>.self)
            return unsafe .claimed(claimed, context.pointee.positions, context.pointee.queue)
        }
        return popNewest(stolen: true)
    }

    /// Removes the newest piece, returning its positions (not stolen: taken back off the
    /// deque) or its thief's result (stolen and done: `_takeBackJob` or `_waitForStolenJob`
    /// acquired the thief's releasing exchange on `done`, which also publishes `result`).
    @inlinable
    mutating func popNewest(stolen: Bool) -> _TakenPiece<Partial> {
        count &-= 1
        // SAFETY: slot `count` was the newest initialised slot, and nobody else uses it any
        // more (see above), so it may be read and deinitialised.
        let context = unsafe contexts.unsafelyUnwrapped + count
        let job = unsafe LivePointer(unchecked: jobs.unsafelyUnwrapped + count)
        let taken: _TakenPiece<Partial>
        if stolen {
            taken = unsafe .stolen(context.pointee.result.unsafelyUnwrapped)
        } else {
            taken = unsafe .notStolen(context.pointee.positions)
        }
        unsafe job.base.deinitialize(count: 1)
        unsafe context.deinitialize(count: 1)
        return taken
    }

    /// Completes a piece claimed by `takeBackNewest(on:claimingPiecesOf:)` with its result,
    /// releasing its owner (which may be this thread, for an older piece of its own).
    @inlinable
    static func complete(_ job: LivePointer<StackJob>, with result: Partial) {
        // SAFETY: the claimed job's context is a live `_PieceContext<Partial>` (see the claim);
        // its owner reads `result` only after `_completeClaimedJob`'s releasing exchange.
        let context = unsafe job.pointee.context.assumingMemoryBound(to: _PieceContext<Partial>.self)
        unsafe context.pointee.result = result
        ThreadPool._completeClaimedJob(job)
    }

    /// Frees the buffers. Every piece must have been taken back.
    @inlinable
    consuming func deallocate() {
        precondition(count == 0, "a parallel fold left a published piece behind")
        // SAFETY: allocated in `publish` (or nil); no slot is initialised any more.
        unsafe jobs?.deallocate()
        unsafe contexts?.deallocate()
    }
}

/// What taking back a piece found.
@usableFromInline
enum _TakenPiece<Partial> {
    /// No thief took it: these positions are the caller's to fold.
    case notStolen(Range<Int>)
    /// A thief folded it into this partial result.
    case stolen(Partial)
    /// Not done yet; meanwhile, a piece of the same loop to fold here (`claimingPiecesOf:`):
    /// its positions, or the first-come items it helps with.
    case claimed(LivePointer<StackJob>, Range<Int>, _ItemQueue<Partial>?)
}

/// A published piece's job context: the fold, the positions, and the thief's result.
@usableFromInline
struct _PieceContext<Partial: Sendable>: _StackJobRunner {
    @usableFromInline let run: _FoldRun<Partial>
    @usableFromInline let positions: Range<Int>
    /// Set for a helper of a first-come loop: the piece is its items, not `positions`.
    @usableFromInline let queue: _ItemQueue<Partial>?
    @usableFromInline var result: Partial?

    @inlinable
    init(run: _FoldRun<Partial>, positions: Range<Int>, queue: _ItemQueue<Partial>?) {
        self.run = run
        self.positions = positions
        self.queue = queue
        result = nil
    }

    /// Runs a stolen piece on the thief: an adaptive fold of its positions from `identity`, or
    /// a helper's share of first-come items (its result is then `identity()`).
    @inlinable
    static func run(_ context: UnsafeMutableRawPointer) {
        // SAFETY: `context` is this type's slot in `_PublishedPieces.contexts`, alive until the
        // owner has waited for `done` (set after this returns).
        let me = unsafe context.assumingMemoryBound(to: Self.self)
        // SAFETY: as above; the thief is a participant of the pool (it took the job from a deque).
        let run = unsafe me.pointee.run.forThief
        var partial = run.identity()
        if let queue = unsafe me.pointee.queue {
            run.claimQueuedItems(queue)
            unsafe me.pointee.result = partial
            return
        }
        unsafe run.foldAdaptively(
            me.pointee.positions.lowerBound, me.pointee.positions.upperBound, &partial,
            on: Participant.current.unsafelyUnwrapped)
        unsafe me.pointee.result = partial
    }
}
