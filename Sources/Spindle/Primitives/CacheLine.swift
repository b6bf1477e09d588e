/// 128 bytes of nothing: placed between fields that different threads write, so that they never
/// share a cache line (two 64-byte lines, because adjacent-line prefetch pairs them on x86).
@usableFromInline
struct CacheLinePad {
    @usableFromInline
    var bytes:
        (
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
        ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    @usableFromInline
    init() {}
}

/// The alignment of per-participant state: a whole line pair, so padding really separates lines.
@usableFromInline
let cacheLineAlignment = 128
