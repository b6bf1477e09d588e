/// Escaping work (`spawn`, `submit`, scope spawns, broadcast parts): a heap object whose
/// subclass knows what to run. `JobRef(heap:)` holds one reference; executing consumes it.
@usableFromInline
class HeapJob: @unchecked Sendable {  // immutable after init; subclasses document their own state
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

    /// Whether taking the job out of the background queue gives back its `maxPending` place (a
    /// submitted task gives it back when it is claimed or cancelled, which may happen earlier).
    var leavesPendingOnDequeue: Bool { true }

    /// Whether running the job counts as a completed task in the metrics (a submitted task
    /// records its own outcome: completed, failed or cancelled).
    var countsCompletionOnExecute: Bool { true }

    /// Called under the admission lock just before the job enters the background queue (its
    /// `maxPending` place is taken from then on).
    func willBeQueued() {}

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
