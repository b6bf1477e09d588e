import CSpindle
import Synchronization

/// Where a call tree's cancellation comes from (Scheduler/CancellationFlow.swift says how it flows).

/// What a call tree's cancellation is read from: a `run` call's flag or a Swift task.
///
/// A class, so that a participant's optional source is one nullable reference: copying it is a
/// retain. (An enum holding the resilient `UnsafeCurrentTask`, and even one of two class
/// payloads, was copied through the runtime's value witnesses: about a third of an outside
/// thread's join.)
// @unchecked Sendable: no stored state here; each subclass says why it is sendable.
class CancellationSource: @unchecked Sendable {
    /// Whether the source was cancelled. Relaxed: cancellation carries no data; readers poll it.
    var isCancelled: Bool { false }

    /// The Swift task running on this thread, if any.
    static var currentTask: CancellationSource? {
        // Most threads that call a pool from outside run no task: answer those without the
        // generic `withUnsafeCurrentTask`.
        guard spindle_thread_runs_task() else { return nil }
        // SAFETY: the task reference leaves the closure only inside the probe, whose use is bounded by the task's life (see `TaskCancellationProbe`).
        return unsafe withUnsafeCurrentTask { task -> CancellationSource? in
            guard let task = unsafe task else { return nil }
            return unsafe TaskCancellationProbe(task)
        }
    }
}

/// A flag set once, when the task awaiting a `run` call is cancelled.
// @unchecked Sendable: the only state is an atomic.
final class CancellationFlag: CancellationSource, @unchecked Sendable {
    private let cancelled = Atomic<Bool>(false)

    /// Relaxed: the flag carries no data; readers poll it.
    override var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func set() { cancelled.store(true, ordering: .relaxed) }  // see `isCancelled`
}

/// A Swift task's cancellation, readable from other threads while the task is blocked in the
/// root call of a family.
// @unchecked Sendable: the `UnsafeCurrentTask` is read only through `isCancelled` (an atomic load
// of the task's status) and only while the task is alive: the task is blocked in the family's
// root call, which does not return before every job of the family has run.
// @safe: for the same reason, the stored task reference is never used after the task ended.
@safe
final class TaskCancellationProbe: CancellationSource, @unchecked Sendable {
    private let task: UnsafeCurrentTask

    init(_ task: UnsafeCurrentTask) { unsafe self.task = task }

    // SAFETY: the task outlives the family this probe belongs to (see the type's comment).
    override var isCancelled: Bool { unsafe task.isCancelled }
}
