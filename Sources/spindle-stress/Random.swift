/// SplitMix64: a tiny, fast generator whose whole state is one word, so every issuing thread and
/// every unit of work can derive its own stream from the run's seed and stay reproducible in its
/// choices (not in its interleavings: those belong to the scheduler under test).
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix64(state)
    }

    /// A uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// One element of a non-empty array.
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    /// A new, independent stream (forked so that a callee's choices do not shift the caller's).
    mutating func fork() -> SplitMix64 { SplitMix64(seed: next()) }
}

/// SplitMix64's output function: a stateless 64-bit mixer, used to derive per-id values.
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
