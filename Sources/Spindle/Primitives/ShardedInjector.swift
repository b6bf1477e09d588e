import CSpindle

/// A multi-producer, multi-consumer queue split into a few `Injector`s, so that producers on
/// different threads do not contend for one lock: each thread pushes into the shard its
/// thread-local token picks, and consumers take from the shard they start at, then the others.
///
/// Order: FIFO per producing thread (a thread always uses the same shard); jobs of different
/// threads may be taken in any order, as with any set of independent submitters.
// @safe: the unmanaged references are only used while `shards` keeps their objects alive.
@safe
final class ShardedInjector<Element>: @unchecked Sendable {  // the shards synchronise themselves; `shards` is immutable
    /// Owns the shards.
    private let shards: [Injector<Element>]
    /// The same shards, reached without reference counting: an idle worker looks at every shard
    /// on every search round, and retaining each one there cost more than the look.
    private let unretainedShards: [Unmanaged<Injector<Element>>]
    private let mask: Int

    /// `shardCount` is rounded up to a power of two.
    init(shardCount: Int) {
        var count = 1
        while count < shardCount { count <<= 1 }
        shards = (0..<count).map { _ in Injector<Element>() }
        // SAFETY: unretained references to objects `shards` owns for the life of `self`.
        unsafe unretainedShards = shards.map { unsafe Unmanaged.passUnretained($0) }
        mask = count - 1
    }

    /// The calling thread's shard.
    private var homeShard: Int {
        // Fibonacci hashing of a thread-local address: distinct per thread, stable for its life.
        Int(truncatingIfNeeded: (spindle_thread_token() &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }

    /// Shard `index` (masked), borrowed for the duration of `body`.
    private func withShard<R>(_ index: Int, _ body: (Injector<Element>) -> R) -> R {
        // SAFETY: `shards` holds every shard strongly for as long as `self` lives, and `self` is alive during this call.
        unsafe unretainedShards[index & mask]._withUnsafeGuaranteedRef(body)
    }

    /// Pushes into the calling thread's shard.
    func push(_ element: Element) {
        withShard(homeShard) { $0.push(element) }
    }

    /// Takes the oldest element of the first non-empty shard, starting at `start`'s.
    func pop(startingAt start: Int) -> Element? {
        for k in 0...mask {
            if let element = withShard(start &+ k, { $0.pop() }) { return element }
        }
        return nil
    }

    /// Whether every shard looks empty (hints: relaxed loads, see `Injector`).
    var isEmpty: Bool {
        for k in 0...mask where !withShard(k, { $0.isEmpty }) { return false }
        return true
    }

    /// The number of queued elements (a hint).
    var count: Int {
        var total = 0
        for shard in shards { total += shard.count }
        return total
    }
}
