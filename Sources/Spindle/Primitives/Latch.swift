import Synchronization

// Latches. The join latch is the `done` word of a `StackJob` (see StackJob.swift); the two
// below are for scopes and broadcasts (a counter) and for threads that wait on a task without
// being a participant (a one-shot event).

/// Counts outstanding pieces of work; the owner waits for zero.
///
/// States: `count > 0` open, `count == 0` released (final). The owner holds one token from the
/// start and gives it up when its own part is done, so zero is reached exactly once.
/// Wake-up protocol (Dekker): the owner stores `ownerMaySleep = true` then loads `count`; the
/// last decrementer stores `count = 0` then loads `ownerMaySleep`. Both sides are sequentially
/// consistent, so at least one of them sees the other's store: no lost wake-up.
@usableFromInline
final class CountLatch: @unchecked Sendable {  // all state is atomic; `parker` is immutable
    private let count: Atomic<Int>
    private let ownerMaySleep = Atomic<Bool>(false)
    private let parker: Parker

    init(ownerParker: Parker) {
        count = Atomic(1)
        parker = ownerParker
    }

    /// Adds a piece of work. The caller holds a token (the owner's or a running piece's), so the
    /// count cannot reach zero concurrently: relaxed is enough.
    @usableFromInline
    func increment(by n: Int = 1) {
        count.wrappingAdd(n, ordering: .relaxed)
    }

    /// Marks one piece done. Sequentially consistent: publishes the piece's effects to the owner
    /// (pairs with `isReleased`) and takes part in the Dekker pair described above.
    @usableFromInline
    func decrement(by n: Int = 1) {
        if count.subtract(n, ordering: .sequentiallyConsistent).newValue == 0 {
            if ownerMaySleep.load(ordering: .sequentiallyConsistent) {
                parker.unpark()
            }
        }
    }

    var isReleased: Bool { count.load(ordering: .acquiring) == 0 }

    /// Owner only: parks until released or until the timeout passes (returns either way).
    func parkOwner(timeoutNanoseconds: Int64) {
        let ticket = parker.prepare()
        ownerMaySleep.store(true, ordering: .sequentiallyConsistent)
        if count.load(ordering: .sequentiallyConsistent) != 0 {
            parker.park(ticket: ticket, timeoutNanoseconds: timeoutNanoseconds)
        }
    }
}

/// A one-shot event any number of threads can wait for, owning its futex word.
/// States: 0 unset, 2 unset with possible sleepers, 1 set (final).
final class OneShotEvent: @unchecked Sendable {  // all state is behind the atomic word
    private let word = FutexWord(0)

    deinit { word.deallocate() }

    var isSet: Bool { word.atomic.pointee.load(ordering: .acquiring) == 1 }  // pairs with `set()`

    func set() {
        // Releasing: publishes what the setter wrote before; pairs with the acquiring loads.
        if word.atomic.pointee.exchange(1, ordering: .releasing) == 2 {
            word.wakeAll()
        }
    }

    func wait() {
        while true {
            let v = word.atomic.pointee.load(ordering: .acquiring)  // pairs with `set()`
            if v == 1 { return }
            if v == 0 && !word.atomic.pointee.compareExchange(
                expected: 0, desired: 2, ordering: .acquiring).exchanged {
                continue
            }
            word.wait(whileEqualTo: 2)
        }
    }
}
