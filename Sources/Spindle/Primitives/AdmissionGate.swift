import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether a pool still admits background work, checked without a lock (Scheduler/README.md §5).
///
/// One word: bit 0 is *closed*, the rest counts admissions in flight (two per admission).
/// An admission enters (adds 2), and goes on only if the bit was clear; it queues its job, then
/// leaves (subtracts 2). Closing sets the bit, then waits until no admission is in flight. All
/// three are read-modify-writes of one word, so they are totally ordered:
/// - an admission that entered before the bit was set is waited for, and its `leave`
///   (releasing) is read by the closer's wait (acquiring): its job is queued before `close`
///   returns, so before any worker can see the pool closed;
/// - an admission that entered after sees the bit and queues nothing.
final class AdmissionGate: Sendable {
    private let state = Atomic<Int>(0)

    /// Enters the gate; false when it is closed (then there is nothing to leave).
    func enter() -> Bool {
        // Acquiring: an admission that finds the gate open runs after every earlier close attempt
        // (there is none while open); the total order of the RMWs is what the protocol uses.
        let entered = state.wrappingAdd(2, ordering: .acquiring).newValue
        if entered & 1 == 0 { return true }
        state.wrappingSubtract(2, ordering: .relaxed)  // closed: undo, nothing was queued
        return false
    }

    /// Leaves the gate after queuing (or deciding not to queue) the job.
    func leave() {
        state.wrappingSubtract(2, ordering: .releasing)  // pairs with `close`'s acquiring wait
    }

    /// Closes the gate, then waits for the admissions in flight to leave (each is a few hundred
    /// nanoseconds: a place and a queue push; a preempted one is waited for with yields).
    func close() {
        state.bitwiseOr(1, ordering: .acquiringAndReleasing)
        while state.load(ordering: .acquiring) != 1 { sched_yield() }  // pairs with `leave`
    }
}
