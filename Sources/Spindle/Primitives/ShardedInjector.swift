import CSpindle

/// A multi-producer, multi-consumer queue split into a few `Injector`s, so that producers on
/// different threads do not contend for one lock: each thread pushes into the shard its
/// thread-local token picks, and consumers take from the shard they start at, then the others.
///
/// Order: FIFO per producing thread (a thread always uses the same shard); jobs of different
/// threads may be taken in any order, as with any set of independent submitters.
final class ShardedInjector<Element>: @unchecked Sendable {  // the shards synchronise themselves; `shards` is immutable
    private let shards: [Injector<Element>]
    private let mask: Int

    /// `shardCount` is rounded up to a power of two.
    init(shardCount: Int) {
        var count = 1
        while count < shardCount { count <<= 1 }
        shards = (0..<count).map { _ in Injector<Element>() }
        mask = count - 1
    }

    /// The calling thread's shard.
    private var homeShard: Int {
        // Fibonacci hashing of a thread-local address: distinct per thread, stable for its life.
        Int(truncatingIfNeeded: (spindle_thread_token() &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }

    /// Pushes into the calling thread's shard.
    func push(_ element: Element) {
        shards[homeShard].push(element)
    }

    /// Takes the oldest element of the first non-empty shard, starting at `start`'s.
    func pop(startingAt start: Int) -> Element? {
        for k in 0...mask {
            if let element = shards[(start &+ k) & mask].pop() { return element }
        }
        return nil
    }

    /// Whether every shard looks empty (hints: relaxed loads, see `Injector`).
    var isEmpty: Bool {
        for shard in shards where !shard.isEmpty { return false }
        return true
    }

    /// The number of queued elements (a hint).
    var count: Int {
        var total = 0
        for shard in shards { total += shard.count }
        return total
    }
}
