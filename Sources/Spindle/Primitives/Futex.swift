import CSpindle
import Synchronization

/// A 32-bit word in its own allocation, usable both as a Swift `Atomic` and as a futex address.
///
/// `Atomic` values have no stable address when stored in a class or a struct field, so every
/// word a thread sleeps on is allocated here and owned by whoever holds the `FutexWord`.
@safe
@usableFromInline
struct FutexWord: @unchecked Sendable {  // a pointer to shared memory whose every access is atomic
    @usableFromInline
    let pointer: UnsafeMutablePointer<Atomic<UInt32>>

    init(_ value: UInt32 = 0) {
        // Unsafe allocation: the word must have a fixed address for the kernel; freed by `deallocate()`.
        // SAFETY: a fresh allocation of one word, initialised here and freed by `deallocate()`.
        unsafe pointer = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: 1)
        unsafe pointer.initialize(to: Atomic(value))
    }

    /// # Safety
    /// Nobody uses the word (or a copy of this value) afterwards.
    @unsafe
    func deallocate() {
        unsafe pointer.deinitialize(count: 1)
        unsafe pointer.deallocate()
    }

    /// Runs `body` with the word as an `Atomic` (its orderings stay compile-time constants).
    @inlinable
    @inline(__always)
    @discardableResult
    func withAtomic<R>(_ body: (borrowing Atomic<UInt32>) -> R) -> R {
        // SAFETY: the word is allocated and initialised in `init` and lives until `deallocate`,
        // which its owner calls only once no thread uses it; it is only ever accessed atomically.
        unsafe body(pointer.pointee)
    }

    private var rawAddress: UnsafeMutablePointer<UInt32> {
        // Only the kernel reads through this address; Swift code never touches it non-atomically.
        // SAFETY: an `Atomic<UInt32>` has the layout of a `UInt32`; the address is only passed to the kernel.
        unsafe UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: UInt32.self)
    }

    /// Sleeps while the word still holds `expected` (returns at once otherwise), at most
    /// `timeoutNanoseconds` when given. Spurious returns happen: callers re-check their condition.
    func wait(whileEqualTo expected: UInt32, timeoutNanoseconds: Int64 = -1) {
        // SAFETY: the word is live (see `withAtomic`); the kernel only compares it and queues us.
        _ = unsafe spindle_futex_wait(rawAddress, expected, timeoutNanoseconds)
    }

    func wake(_ count: Int32 = 1) {
        // SAFETY: as in `wait`: the address is only used as a key by the kernel.
        _ = unsafe spindle_futex_wake(rawAddress, count)
    }

    func wakeAll() {
        // SAFETY: as in `wait`.
        _ = unsafe spindle_futex_wake(rawAddress, Int32.max)
    }
}
