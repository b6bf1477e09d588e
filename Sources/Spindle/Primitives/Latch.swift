import Synchronization

// Latches. The join latch is the `done` word of a `StackJob` (see StackJob.swift); the two
// below are for scopes and broadcasts (a counter) and for threads that wait on a task without
// being a participant (a one-shot event).

/// Counts outstanding pieces of work; the owner waits for zero.
///
/// States: the low bits count the pieces (`count > 0` open, `0` released, final); the owner holds
/// one token from the start and gives it up when its own part is done, so zero is reached exactly
/// once. Bit `ownerMaySleep` in the same word says the owner may be parked.
///
/// Wake-up protocol: the owner sets the bit with a read-modify-write and parks only if the count
/// it read was not zero; the last decrementer's read-modify-write returns the word with the bit,
/// so one of the two always sees the other. The decrementer copies the parker *before* its
/// read-modify-write and touches nothing of the latch afterwards: once the count is zero the
/// owner may return and free the latch at once.
@usableFromInline
final class CountLatch: @unchecked Sendable {  // all state is one atomic word; `parker` is immutable
    private static var ownerMaySleep: Int { 1 << 62 }
    private let word: Atomic<Int>
    private let parker: Parker

    init(ownerParker: Parker) {
        word = Atomic(1)
        parker = ownerParker
    }

    /// Adds pieces of work. The caller holds a token (the owner's or a running piece's), so the
    /// count cannot reach zero concurrently: relaxed is enough.
    @usableFromInline
    func increment(by n: Int = 1) {
        word.wrappingAdd(n, ordering: .relaxed)
    }

    /// Marks pieces done. Acquiring and releasing: publishes the pieces' effects to the owner
    /// (pairs with `isReleased` and `parkOwner`), and orders against the owner's bit.
    @usableFromInline
    func decrement(by n: Int = 1) {
        let parker = self.parker  // copied first: the latch may be freed right after the subtraction
        if word.subtract(n, ordering: .acquiringAndReleasing).newValue == Self.ownerMaySleep {
            parker.unpark()
        }
    }

    var isReleased: Bool { word.load(ordering: .acquiring) & ~Self.ownerMaySleep == 0 }  // pairs with `decrement`

    /// Owner only: parks until released or until the timeout passes (returns either way).
    func parkOwner(timeoutNanoseconds: Int64) {
        let ticket = parker.prepare()
        let current = word.bitwiseOr(Self.ownerMaySleep, ordering: .acquiringAndReleasing).newValue
        if current & ~Self.ownerMaySleep != 0 {
            parker.park(ticket: ticket, timeoutNanoseconds: timeoutNanoseconds)
        }
    }
}

/// A one-shot event any number of threads can wait for, owning its futex word.
/// States: 0 unset, 2 unset with possible sleepers, 1 set (final).
final class OneShotEvent: @unchecked Sendable {  // all state is behind the atomic word
    private let word = FutexWord(0)

    // SAFETY: the event is being destroyed, so no thread waits on it.
    deinit { unsafe word.deallocate() }

    var isSet: Bool { word.withAtomic { $0.load(ordering: .acquiring) } == 1 }  // pairs with `set()`

    func set() {
        // Releasing: publishes what the setter wrote before; pairs with the acquiring loads.
        if word.withAtomic({ $0.exchange(1, ordering: .releasing) }) == 2 {
            word.wakeAll()
        }
    }

    func wait() {
        while !wait(timeoutNanoseconds: -1) {}
    }

    /// Waits at most about `timeoutNanoseconds` (forever when negative); returns whether it is set.
    func wait(timeoutNanoseconds: Int64) -> Bool {
        while true {
            let v = word.withAtomic { $0.load(ordering: .acquiring) }  // pairs with `set()`
            if v == 1 { return true }
            if v == 0 && !word.withAtomic({ $0.compareExchange(expected: 0, desired: 2, ordering: .acquiring).exchanged }) {
                continue
            }
            word.wait(whileEqualTo: 2, timeoutNanoseconds: timeoutNanoseconds)
            if timeoutNanoseconds >= 0 { return isSet }
        }
    }
}
