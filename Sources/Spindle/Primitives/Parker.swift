import Synchronization

/// Parks one thread and lets any other thread unpark it (an event counter on a futex).
///
/// Protocol, written so that a wake-up cannot be lost:
/// 1. the sleeper reads `ticket = prepare()` *before* it publishes that it is about to sleep
///    (for example by moving a latch to its "sleeping" state);
/// 2. the waker first makes the sleeper's condition true, then calls `unpark()`, which bumps the
///    counter (releasing) and wakes;
/// 3. `park(ticket:)` returns at once when the counter moved since `prepare()`.
/// The sleeper re-checks its condition after every return (spurious wake-ups are allowed).
@usableFromInline
struct Parker: Sendable {
    let word: FutexWord

    init() { word = FutexWord(0) }

    /// # Safety
    /// Nobody parks on or unparks this parker afterwards.
    @unsafe
    func deallocate() { unsafe word.deallocate() }

    /// Pairs with the releasing increment in `unpark()`.
    func prepare() -> UInt32 { word.withAtomic { $0.load(ordering: .acquiring) } }

    func park(ticket: UInt32, timeoutNanoseconds: Int64 = -1) {
        word.wait(whileEqualTo: ticket, timeoutNanoseconds: timeoutNanoseconds)
    }

    @usableFromInline
    func unpark() {
        // Releasing: the condition the sleeper re-checks was written before; pairs with `prepare()`.
        word.withAtomic { $0.wrappingAdd(1, ordering: .releasing) }
        word.wake(1)
    }
}
