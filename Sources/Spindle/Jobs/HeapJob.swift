/// Escaping work (`spawn`, `submit`, scope spawns, broadcast parts): a heap object whose
/// subclass knows what to run. `JobRef(heap:)` holds one reference; executing consumes it.
@usableFromInline
class HeapJob: @unchecked Sendable {  // `place` is touched by one thread at a time (see there); the rest is immutable
    /// The call this job belongs to (see `Participant.family`); background jobs get a fresh one
    /// when they start.
    let family: Int
    /// Background work is counted against `maxPending` and runs in its own family.
    let isBackground: Bool

    @usableFromInline
    init(family: Int, isBackground: Bool) {
        self.family = family
        self.isBackground = isBackground
        LiveObjects.created(.heapJob)
    }

    deinit { LiveObjects.destroyed(.heapJob) }

    /// The `maxPending` place of a plain background closure, from admission until the job
    /// leaves the queue. Written by the admitting thread before the job is queued, ended by the
    /// one thread that took the job out of the queue: never two threads at once.
    private var place: PendingPlace?

    /// Takes over the place the job was admitted with (called by the admitting thread, just
    /// before the job is queued). Jobs that can be cancelled while queued (a submitted task, a
    /// `run`) override this to keep the place in the state that decides between start and
    /// cancellation; whichever wins ends the place.
    func holdPlace(_ place: consuming PendingPlace) {
        self.place = consume place
    }

    /// Called by the thread that took the job out of its queue to start it, or to cancel it at
    /// a shutdown deadline: gives back a place held by the job itself.
    final func leaveQueue() {
        place = nil
    }

    /// Whether the job records its own task outcome (completed, failed or cancelled) in the
    /// metrics; otherwise the scheduler counts running it as completed and cancelling it as
    /// cancelled.
    var recordsOwnOutcome: Bool { false }

    /// Cancels the job before it starts (taken out of the queue at a graceful shutdown's
    /// deadline); says whether it did (false: someone else started or cancelled it first).
    /// The caller has called `leaveQueue()`.
    func cancelBeforeStart() -> Bool { true }

    /// For a background job: where the cancellation its code observes comes from, when not
    /// from the Swift task running it (a `run` call's flag). Read when the job starts.
    var cancellation: CancellationSource? { nil }

    /// Runs the job on the current participant.
    @usableFromInline
    func execute() {
        preconditionFailure("HeapJob subclasses override execute()")
    }

}

/// A heap job around a closure, with nothing to report back.
final class ClosureJob: HeapJob, @unchecked Sendable {  // `body` is immutable
    private let body: @Sendable () -> Void

    init(family: Int, isBackground: Bool, _ body: @escaping @Sendable () -> Void) {
        self.body = body
        super.init(family: family, isBackground: isBackground)
    }

    override func execute() { body() }
}
