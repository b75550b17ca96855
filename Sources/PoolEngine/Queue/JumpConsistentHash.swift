/// Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm", 2014).
///
/// Maps a 64-bit key to one of `buckets` buckets such that growing from `n` to `n + 1` buckets moves only
/// the keys that land in the new bucket (about `1/(n+1)` of them), and shrinking from `n + 1` to `n` moves
/// only the keys of the last bucket.
@inlinable
public func jumpConsistentHash(key: UInt64, buckets: Int) -> Int {
    precondition(buckets > 0, "jump consistent hash needs at least one bucket, got \(buckets)")
    var key = key
    var bucket: Int64 = -1
    var next: Int64 = 0
    while next < Int64(buckets) {
        bucket = next
        key = key &* 2_862_933_555_777_941_757 &+ 1
        next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((key >> 33) + 1)))
    }
    return Int(bucket)
}

/// A stable 64-bit hash of a string key (FNV-1a over its UTF-8), the same in every process, unlike
/// `Hasher`, so a key lands on the same worker run after run.
@inlinable
public func stableKeyHash(_ key: String) -> UInt64 {
    func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
    // The bytes in place (a native or small string) when they can be had: a plain loop over a buffer.
    return key.utf8.withContiguousStorageIfAvailable { fnv1a($0) } ?? fnv1a(key.utf8)
}
