import PoolEngine

/// Which key slots a keyed node owns: slot `s` belongs to the node at index
/// `jumpConsistentHash(mix(s), liveKeyedNodes)` in the list of live keyed nodes ordered by when they joined.
///
/// Pure, so it is tested alone. Ownership spreads keys; it is not what keeps a key's attempts apart: the
/// database's unique index over running keys does that, so a node acting on a stale list is harmless.
public struct KeyOwnership: Sendable, Equatable {
    /// Node ids of live keyed nodes, in joining order.
    public let nodes: [Int64]

    public init(nodes: [Int64]) { self.nodes = nodes }

    /// The index of the node owning `slot`, or nil with no live keyed node.
    public func ownerIndex(ofSlot slot: Int) -> Int? {
        guard !nodes.isEmpty else { return nil }
        return jumpConsistentHash(key: Self.mix(UInt64(slot)), buckets: nodes.count)
    }

    /// The node owning a key.
    public func owner(ofKey key: String) -> Int64? {
        ownerIndex(ofSlot: Int(ClusterProducer.slot(ofKey: key))).map { nodes[$0] }
    }

    /// The slots `node` owns (empty when it is not in the list).
    public func slots(ownedBy node: Int64) -> [Int32] {
        guard let index = nodes.firstIndex(of: node) else { return [] }
        return (0..<ClusterProducer.keySlots).filter { ownerIndex(ofSlot: $0) == index }.map { Int32($0) }
    }

    /// Spreads consecutive slot numbers over the whole 64-bit range: the first number of the package's one
    /// generator (SplitMix64) seeded with `value`, which is SplitMix64's finaliser of `value`.
    static func mix(_ value: UInt64) -> UInt64 {
        var generator = SeededRandom(seed: value)
        return generator.next()
    }
}
