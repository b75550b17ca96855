public import Synchronization

/// Which worker a key goes to, remembered for the key hashes seen lately, so that a key met again costs
/// one load instead of the jump consistent hash's loop of divisions (most of a keyed job's cost on no-op
/// jobs).
///
/// Slot `hash % 4096` holds the rest of the hash and the worker + 1, packed in one atomic word, so an entry
/// read is always a whole one, written by whichever submitter placed that hash last; a hit needs all 64
/// bits of the hash to match, and the worker is a function of the hash, so the cache never changes where a
/// key goes, only how fast that is found.
@usableFromInline
final class KeyPlacements: Sendable {
    @usableFromInline static let slotBits = 12
    @usableFromInline static let slotMask: UInt64 = (1 << slotBits) - 1

    @usableFromInline let workers: Int
    @usableFromInline let slots: InlineArray<4096, Atomic<UInt64>>

    @usableFromInline
    init(workers: Int) {
        self.workers = workers
        slots = InlineArray { _ in Atomic(0) }
    }

    /// The worker (0-based) for a key whose ``stableKeyHash(_:)`` is `hash`: `jumpConsistentHash`'s answer.
    @inlinable
    func worker(forHash hash: UInt64) -> Int {
        // The worker's index + 1 must fit beside the hash's upper bits; from 4,095 workers on, no cache.
        guard workers < Int(Self.slotMask) else { return jumpConsistentHash(key: hash, buckets: workers) }
        let slot = Int(truncatingIfNeeded: hash & Self.slotMask)
        let tag = hash & ~Self.slotMask
        let entry = slots[slot].load(ordering: .relaxed)
        // An empty slot (0) never matches: a filled one holds the worker + 1 in its low bits.
        let stored = entry & Self.slotMask
        if stored != 0 && entry & ~Self.slotMask == tag { return Int(truncatingIfNeeded: stored) - 1 }
        let worker = jumpConsistentHash(key: hash, buckets: workers)
        slots[slot].store(tag | UInt64(worker + 1), ordering: .relaxed)
        return worker
    }
}
