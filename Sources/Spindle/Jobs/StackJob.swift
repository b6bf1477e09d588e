import Synchronization

/// The second half of a `join`, living on the joining thread's stack.
///
/// An offered join's job is pushed onto its participant's deque at once, where idle threads may
/// take it, and listed in the participant's offer window (owner-only links, which decide how
/// deep the next offered join may be). When the joining thread comes back to a job no thief took,
/// it pops it and calls the closure directly.
///
/// Lifetime: the joining thread does not leave `join` before `done` is 1, so the memory stays
/// valid for a thief until the thief's last access, the releasing exchange on `done`.
/// Protocol and interleavings: Scheduler/README.md §3.
// @safe: `context` points into the joining frame, alive until `done` is set (see Lifetime).
@safe
@usableFromInline
struct StackJob: ~Copyable {
    /// The joining frame's `_JoinContext` (the closure to run and where its result goes).
    @usableFromInline let context: UnsafeMutableRawPointer
    /// The context's type, which knows how to run it: a metatype, so the job stays trivial (no
    /// reference counting when it is created or destroyed).
    @usableFromInline let runner: any _StackJobRunner.Type
    /// The call this job belongs to; copied from the joining participant.
    @usableFromInline let family: Int
    /// The parker of the thread that created the job and waits for it (a participant's, which
    /// lives as long as its pool: valid after the joining frame is gone).
    @usableFromInline let ownerParker: Parker
    /// Offer-window links (owner-only).
    @usableFromInline var older: LivePointer<StackJob>?
    @usableFromInline var newer: LivePointer<StackJob>?
    /// The owner's join depth at this join (owner-only).
    @usableFromInline let depth: Int
    /// Set by the owner when the job is not (or no longer) listed in its offer window
    /// (owner-only).
    @usableFromInline var leftWindow: Bool
    /// The completion latch: 0 not done, 1 done, 2 not done and the owner may be parked.
    /// Written by the thief with a releasing exchange, read by the owner acquiring.
    @usableFromInline let done: Atomic<UInt32>
    /// Index of the participant running the job once stolen (-1 before): the owner's hint of
    /// where the job's own sub-jobs are (leapfrogging). Relaxed: only a hint.
    @usableFromInline let thief: Atomic<Int>

    @inlinable
    init(
        context: UnsafeMutableRawPointer, runner: any _StackJobRunner.Type,
        family: Int, ownerParker: Parker, depth: Int
    ) {
        self.depth = depth
        // SAFETY: `context` is the joining frame's, alive until `done` is set.
        unsafe self.context = context
        self.runner = runner
        self.family = family
        self.ownerParker = ownerParker
        older = nil
        newer = nil
        leftWindow = false
        done = Atomic(0)
        thief = Atomic(-1)
    }

    /// Runs a stolen job on the current thread and releases its owner.
    static func execute(_ job: LivePointer<StackJob>) {
        // SAFETY: the owner waits for `done` before leaving its frame, so the context is alive until the exchange below.
        unsafe job.pointee.runner.run(job.pointee.context)
        complete(job)
    }

    /// Releases the owner of a stolen job whose result is in its context: the end of
    /// `execute`, also called by a parallel loop that ran a claimed piece itself. The job may
    /// be gone once this returns.
    @usableFromInline
    static func complete(_ job: LivePointer<StackJob>) {
        let parker = job.pointee.ownerParker  // read before `done`: the frame may vanish after
        // Releasing: publishes the result written by `run`; pairs with the owner's acquiring loads.
        if job.pointee.done.exchange(1, ordering: .releasing) == 2 {
            parker.unpark()
        }
    }
}

/// Runs the second closure of a join from its context (implemented by `_JoinContext`).
public protocol _StackJobRunner {
    /// Runs the closure the context points to and stores its result in the context. Any copy of
    /// the closure made here is released before returning, that is before `done` is set:
    /// `withoutActuallyEscaping` in `join` checks that no reference is left.
    static func run(_ context: UnsafeMutableRawPointer)
}

/// What a thief needs to run the second closure of a join: the closure, borrowed through a
/// pointer into the joining frame, and the place for its result.
// @unsafe: a pointer into a joining frame; only the join that made it may use it.
@unsafe
@frozen
public struct _JoinContext<B, E: Error>: _StackJobRunner {
    @usableFromInline let body: UnsafePointer<@Sendable () throws(E) -> B>
    @usableFromInline var result: Result<B, E>?

    @inlinable
    init(body: UnsafePointer<@Sendable () throws(E) -> B>) {
        // SAFETY: `body` is the joining frame's closure, borrowed for the join.
        unsafe self.body = body
        unsafe result = nil
    }

    @inlinable
    public static func run(_ context: UnsafeMutableRawPointer) {
        // SAFETY: `context` is this type's instance in the joining frame (`_joinForking`), alive until `done` is set.
        let me = unsafe context.assumingMemoryBound(to: Self.self)
        unsafe me.pointee.result = Result(catching: me.pointee.body.pointee)
    }
}
