import Testing

@testable import PoolEngine

/// The reference algorithm as printed in Lamping & Veach (2014), figure 1, transcribed independently of
/// the engine: a C-style loop over a 64-bit linear congruential generator.
func referenceJumpHash(_ key: UInt64, _ numBuckets: Int32) -> Int32 {
    var key = key
    var b: Int64 = -1
    var j: Int64 = 0
    while j < Int64(numBuckets) {
        b = j
        key = key &* 2_862_933_555_777_941_757 &+ 1
        j = Int64(Double(b &+ 1) * (Double(Int64(1) << 31) / Double((key >> 33) &+ 1)))
    }
    return Int32(b)
}

@Suite("Keyed workers: jump consistent hash, exclusivity and re-homing")
struct KeyedTests {
    @Test("the engine's jump hash matches the paper's algorithm on many keys and bucket counts")
    func matchesReference() {
        var random = SeededRandom(seed: 2014)
        for _ in 0..<2_000 {
            let key = random.next()
            for buckets in [1, 2, 3, 7, 10, 64, 1_000, 65_536] {
                #expect(jumpConsistentHash(key: key, buckets: buckets) == Int(referenceJumpHash(key, Int32(buckets))))
            }
        }
        // Fixed vectors, computed by the reference above, pin the LCG constants and the float arithmetic.
        let vectors: [(UInt64, Int32)] = [(0, 1), (1, 2), (0xDEAD_BEEF, 5), (UInt64.max, 100), (42, 1_000)]
        for (key, buckets) in vectors {
            let expected = referenceJumpHash(key, buckets)
            #expect((0..<buckets).contains(expected))
            #expect(jumpConsistentHash(key: key, buckets: Int(buckets)) == Int(expected))
        }
        #expect(jumpConsistentHash(key: 0, buckets: 1) == 0)
    }

    @Test("growing from n to n+1 buckets moves only keys into the new bucket, about 1/(n+1) of them")
    func minimalMovement() {
        let keys = (0..<10_000).map { stableKeyHash("key-\($0)") }
        for n in [1, 4, 9, 31] {
            var moved = 0
            for key in keys {
                let before = jumpConsistentHash(key: key, buckets: n)
                let after = jumpConsistentHash(key: key, buckets: n + 1)
                if before != after {
                    moved += 1
                    #expect(after == n, "a key moved to an old bucket")
                }
            }
            let expected = Double(keys.count) / Double(n + 1)
            #expect(abs(Double(moved) - expected) < expected * 0.15, "moved \(moved), expected about \(expected)")
        }
    }

    func ownership(_ queue: KeyedQueues, _ keys: [String]) -> [String: WorkerID] {
        var result: [String: WorkerID] = [:]
        for key in keys { result[key] = queue.owner(of: key) }
        return result
    }

    @Test("re-homing on grow, shrink and replacement moves no more keys than consistent hashing requires")
    func rehoming() {
        let keys = (0..<1_000).map { "user-\($0)" }
        var queue = KeyedQueues()
        let four = (1...4).map { WorkerID($0) }
        queue.workersChanged(to: four)
        let before = ownership(queue, keys)

        queue.workersChanged(to: four + [WorkerID(5)])
        let grown = ownership(queue, keys)
        let movedOnGrow = keys.filter { before[$0] != grown[$0] }
        #expect(movedOnGrow.allSatisfy { grown[$0] == WorkerID(5) }, "keys move only to the new worker")
        #expect(movedOnGrow.count == keys.filter { jumpConsistentHash(key: stableKeyHash($0), buckets: 5) == 4 }.count)
        #expect((120...280).contains(movedOnGrow.count), "about 1/5 of 1,000 keys moved: \(movedOnGrow.count)")

        #expect(queue.workersToRetire(count: 1, from: four + [WorkerID(5)]) == [WorkerID(5)])
        queue.workersChanged(to: four)
        #expect(ownership(queue, keys) == before, "shrinking back restores every key's owner")

        queue.workersChanged(to: [WorkerID(1), WorkerID(9), WorkerID(3), WorkerID(4)])
        let replaced = ownership(queue, keys)
        for key in keys {
            let expected = before[key] == WorkerID(2) ? WorkerID(9) : before[key]
            #expect(replaced[key] == expected, "a replacement takes over its slot; no other key moves")
        }
    }

    @Test("a key's jobs wait while that key still runs on its previous owner")
    func exclusivityDuringRehome() throws {
        var queue = KeyedQueues()
        queue.workersChanged(to: [WorkerID(1)])
        _ = queue.enqueue(queued(1, key: "k"))
        _ = queue.enqueue(queued(2, key: "k"))
        let first = queue.dequeue(for: WorkerID(1))
        #expect(first?.id == JobID(1))
        // Grow until "k" belongs to another worker.
        var workers = [WorkerID(1)]
        var next = 2
        while queue.owner(of: "k") == WorkerID(1) {
            workers.append(WorkerID(next))
            next += 1
            queue.workersChanged(to: workers)
        }
        let newOwner = try #require(queue.owner(of: "k"))
        #expect(queue.dequeue(for: newOwner) == nil, "job 2 must wait for job 1 to finish on worker 1")
        let wake = queue.jobFinished(try #require(first), by: WorkerID(1))
        #expect(wake == .worker(newOwner))
        #expect(queue.dequeue(for: newOwner)?.id == JobID(2))
    }

    @Test("the snapshot counts the keys each worker owns")
    func ownedKeyCounts() {
        var queue = KeyedQueues()
        queue.workersChanged(to: [WorkerID(1), WorkerID(2)])
        for index in 0..<100 { _ = queue.enqueue(queued(UInt64(index), key: "key-\(index % 20)")) }
        let owned = queue.depths().ownedKeys
        #expect(owned.values.reduce(0, +) == 20)
        #expect(queue.depths().perWorker.values.reduce(0, +) == 100)
    }

    @Test("the snapshot says how many known keys moved at the last resize, as the dashboard shows")
    func keysMovedAtLastResize() {
        var queue = KeyedQueues()
        let four = (1...4).map { WorkerID($0) }
        queue.workersChanged(to: four)
        #expect(queue.depths().lastKeyMovement == nil, "the first placement moves nothing")
        for index in 0..<1_000 { _ = queue.enqueue(queued(UInt64(index), key: "user-\(index)")) }
        queue.workersChanged(to: four + [WorkerID(5)])
        let expected = (0..<1_000).filter { jumpConsistentHash(key: stableKeyHash("user-\($0)"), buckets: 5) == 4 }.count
        #expect(queue.depths().lastKeyMovement == KeyMovement(fromWorkers: 4, toWorkers: 5, moved: expected, keys: 1_000))
        queue.workersChanged(to: four)
        #expect(queue.depths().lastKeyMovement?.moved == expected, "shrinking back moves exactly those keys back")
        queue.workersChanged(to: [WorkerID(1), WorkerID(9), WorkerID(3), WorkerID(4)])
        let ownedBySecond = (0..<1_000).filter { jumpConsistentHash(key: stableKeyHash("user-\($0)"), buckets: 4) == 1 }.count
        #expect(queue.depths().lastKeyMovement?.moved == ownedBySecond, "a replacement takes over only its predecessor's keys")
    }
}
