import Synchronization

/// Where a call tree's cancellation comes from (Scheduler/CancellationFlow.swift says how it flows).

/// What a call tree's cancellation is read from.
// @unchecked Sendable: `.task` holds an `UnsafeCurrentTask`, read only through `isCancelled`
// (an atomic load of the task's status) and only while the task is alive: the task is blocked
// in the family's root call, which does not return before every job of the family has run.
// @safe: for the same reason, the stored task reference is never used after the task ended.
@safe
enum CancellationSource: @unchecked Sendable {
    /// A `run` call's flag, set when the awaiting task is cancelled.
    case flag(CancellationFlag)
    /// The Swift task that runs the root call on its own thread.
    case task(UnsafeCurrentTask)

    var isCancelled: Bool {
        switch self {
        case .flag(let flag): return flag.isSet
        // SAFETY: the task outlives the family this source belongs to (see the type's comment).
        case .task(let task): return unsafe task.isCancelled
        }
    }

    /// The Swift task running on this thread, if any.
    static var currentTask: CancellationSource? {
        // SAFETY: the task reference leaves the closure only inside the source, whose use is bounded by the task's life (see the type's comment).
        unsafe withUnsafeCurrentTask { task in unsafe task.map { unsafe .task($0) } }
    }
}

/// A flag set once, when the task awaiting a `run` call is cancelled.
final class CancellationFlag: Sendable {
    private let cancelled = Atomic<Bool>(false)

    /// Relaxed: the flag carries no data; readers poll it.
    var isSet: Bool { cancelled.load(ordering: .relaxed) }

    func set() { cancelled.store(true, ordering: .relaxed) }  // see `isSet`
}
