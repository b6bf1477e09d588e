import CSpindle
import Synchronization

/// A 32-bit word in its own allocation, usable both as a Swift `Atomic` and as a futex address.
///
/// `Atomic` values have no stable address when stored in a class or a struct field, so every
/// word a thread sleeps on is allocated here and owned by whoever holds the `FutexWord`.
@usableFromInline
struct FutexWord: @unchecked Sendable {  // a pointer to shared memory whose every access is atomic
    @usableFromInline
    let pointer: UnsafeMutablePointer<Atomic<UInt32>>

    init(_ value: UInt32 = 0) {
        // Unsafe allocation: the word must have a fixed address for the kernel; freed by `deallocate()`.
        pointer = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: 1)
        pointer.initialize(to: Atomic(value))
    }

    func deallocate() {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }

    @usableFromInline
    var atomic: UnsafeMutablePointer<Atomic<UInt32>> { pointer }

    private var rawAddress: UnsafeMutablePointer<UInt32> {
        // Only the kernel reads through this address; Swift code never touches it non-atomically.
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: UInt32.self)
    }

    /// Sleeps while the word still holds `expected` (returns at once otherwise), at most
    /// `timeoutNanoseconds` when given. Spurious returns happen: callers re-check their condition.
    func wait(whileEqualTo expected: UInt32, timeoutNanoseconds: Int64 = -1) {
        _ = spindle_futex_wait(rawAddress, expected, timeoutNanoseconds)
    }

    func wake(_ count: Int32 = 1) {
        _ = spindle_futex_wake(rawAddress, count)
    }

    func wakeAll() {
        _ = spindle_futex_wake(rawAddress, Int32.max)
    }
}
