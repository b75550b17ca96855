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

    @Test("a key's stable hash is FNV-1a over its UTF-8, small and long strings alike (the published vectors)")
    func stableHashVectors() {
        #expect(stableKeyHash("") == 0xcbf2_9ce4_8422_2325)
        #expect(stableKeyHash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(stableKeyHash("foobar") == 0x8594_4171_f739_67e8)
        // Past 15 bytes a string is stored out of line: the same bytes give the same hash either way.
        let long = String(repeating: "foobar", count: 5)
        var reference: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(long.utf8) { reference = (reference ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        #expect(stableKeyHash(long) == reference)
    }

    @Test("the typed pool's remembered placements answer as the jump hash does, for repeats and colliding slots")
    func placementsMatchJumpHash() {
        var random = SeededRandom(seed: 77)
        // Hashes that share a slot (the same low 12 bits) but not the rest, small hashes that look like an
        // empty slot, and random ones; each looked up twice (a miss, then a hit or an eviction).
        let sharedSlot = (0..<64).map { UInt64($0) << 12 | 0x2A }
        let small = (0..<4_096).map { UInt64($0) }
        let hashes = sharedSlot + small + (0..<2_000).map { _ in random.next() }
        for workers in [1, 2, 7, 100, 4_094, 4_095, 10_000] {
            let placements = KeyPlacements(workers: workers)
            for _ in 0..<2 {
                for hash in hashes {
                    #expect(placements.worker(forHash: hash) == jumpConsistentHash(key: hash, buckets: workers))
                }
            }
        }
    }

    @Test("placements looked up from several threads at once stay the jump hash's (no torn or stale entry)")
    func placementsUnderConcurrency() async {
        let placements = KeyPlacements(workers: 13)
        let wrong = await withTaskGroup(of: Int.self) { group in
            for seed in 0..<4 {
                group.addTask {
                    var random = SeededRandom(seed: UInt64(seed))
                    var wrong = 0
                    for _ in 0..<50_000 {
                        // Few distinct hashes over few slots, so threads overwrite each other's entries.
                        let hash = random.next() & 0xF_0000_0000_00FF
                        if placements.worker(forHash: hash) != jumpConsistentHash(key: hash, buckets: 13) { wrong += 1 }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(wrong == 0)
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
        let newOwner = try #require(growUntilMoved("k", from: WorkerID(1), in: &queue))
        #expect(queue.dequeue(for: newOwner) == nil, "job 2 must wait for job 1 to finish on worker 1")
        let wake = queue.jobFinished(try #require(first), by: WorkerID(1))
        #expect(wake == .worker(newOwner))
        #expect(queue.dequeue(for: newOwner)?.id == JobID(2))
    }

    @Test("a key's last running job on its old owner wakes the new owner for a job queued after the move, not yet taken")
    func finishWakesNewOwnerForUntakenJob() throws {
        var queue = KeyedQueues()
        queue.workersChanged(to: [WorkerID(1)])
        _ = queue.enqueue(queued(1, key: "k"))
        let taken = queue.dequeue(for: WorkerID(1))
        let first = try #require(taken)
        let newOwner = try #require(growUntilMoved("k", from: WorkerID(1), in: &queue))
        _ = queue.enqueue(queued(2, key: "k"))  // nobody has taken for the new owner since
        #expect(queue.jobFinished(first, by: WorkerID(1)) == .worker(newOwner))
        #expect(queue.dequeue(for: newOwner)?.id == JobID(2))
    }

    @Test("under dropOldest the keyed strategy gives up the job that has waited longest, keyed or not")
    func evictsTheOldestKeyedOrNot() {
        var queue = KeyedQueues()
        queue.workersChanged(to: [WorkerID(1), WorkerID(2)])
        _ = queue.enqueue(queued(1, key: "a", at: 1))
        _ = queue.enqueue(queued(2, at: 2))
        _ = queue.enqueue(queued(3, key: "b", at: 3))
        _ = queue.enqueue(queued(4, at: 4))
        #expect((0..<4).compactMap { _ in queue.evict()?.id.rawValue } == [1, 2, 3, 4])
        #expect(queue.count == 0 && queue.evict() == nil)
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

    @Test(
        "a worker takes ahead its keys' jobs round-robin, a turn of up to 8 per key, in order; put back, they return to the head of their keys"
    )
    func takeAheadAndPutBack() {
        var queue = KeyedQueues()
        #expect(queue.allowsTakingAhead && !queue.allowsMovingTakenJobs)
        queue.workersChanged(to: [WorkerID(1)])
        // Key k: 1...10, then key a: 11, 12; then 13 for k.
        for id in 1...10 { _ = queue.enqueue(queued(UInt64(id), key: "k")) }
        for id in 11...12 { _ = queue.enqueue(queued(UInt64(id), key: "a")) }
        _ = queue.enqueue(queued(13, key: "k"))
        var taken: [QueuedJob] = []
        while let job = queue.takeAhead(for: WorkerID(1)) { taken.append(job) }
        #expect(taken.map(\.id.rawValue) == [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 9, 10, 13], "turns of 8, in order within each key")
        // Back to the example of two keys with short backlogs.
        taken.removeAll()
        for (id, key) in [(1, "k"), (2, "k"), (3, "k"), (4, "a"), (5, "a")] { _ = queue.enqueue(queued(UInt64(id), key: key)) }
        for _ in 0..<5 { if let job = queue.takeAhead(for: WorkerID(1)) { taken.append(job) } }
        #expect(taken.map(\.id.rawValue) == [1, 2, 3, 4, 5])
        #expect(queue.count == 0)
        // Job 1 ran; the worker's job suspended and the rest went back.
        #expect(queue.jobFinished(taken[0], by: WorkerID(1)) == nil)
        #expect(
            queue.putBack(Array(taken.dropFirst())) == [
                .worker(WorkerID(1)), .worker(WorkerID(1)), .worker(WorkerID(1)), .worker(WorkerID(1)),
            ])
        #expect(queue.count == 4 && queue.depths().perWorker[WorkerID(1)] == 4)
        var again: [UInt64] = []
        while let job = queue.dequeue(for: WorkerID(1)) {
            again.append(job.id.rawValue)
            _ = queue.jobFinished(job, by: WorkerID(1))
        }
        #expect(again.filter { $0 <= 3 } == [2, 3] && again.filter { $0 >= 4 } == [4, 5], "each key in order: \(again)")
        #expect(queue.count == 0 && queue.depths().total == 0)
    }

    @Test("a key with two jobs taken ahead on its old owner keeps the new owner waiting until the last of them ends")
    func takenAheadKeepsExclusivity() throws {
        var queue = KeyedQueues()
        queue.workersChanged(to: [WorkerID(1)])
        for id in 1...3 { _ = queue.enqueue(queued(UInt64(id), key: "k")) }
        let firstTaken = queue.dequeue(for: WorkerID(1))
        let secondTaken = queue.takeAhead(for: WorkerID(1))
        let first = try #require(firstTaken)
        let second = try #require(secondTaken)
        #expect([first.id, second.id] == [JobID(1), JobID(2)])
        let newOwner = try #require(growUntilMoved("k", from: WorkerID(1), in: &queue))
        #expect(queue.dequeue(for: newOwner) == nil)
        #expect(queue.jobFinished(first, by: WorkerID(1)) == nil, "job 2 of the key still runs on worker 1")
        #expect(queue.dequeue(for: newOwner) == nil, "so job 3 still waits")
        #expect(queue.jobFinished(second, by: WorkerID(1)) == .worker(newOwner))
        #expect(queue.dequeue(for: newOwner)?.id == JobID(3))
    }

    @Test(
        "a key whose jobs all ended frees its slot (at once, or once more keys idle than are kept); the next key in that slot is served once, not by its old entries",
        arguments: [0, 2])
    func slotsAreReused(idleSlotsKept: Int) throws {
        var queue = KeyedQueues(idleSlotsKept: idleSlotsKept)
        queue.workersChanged(to: [WorkerID(1)])
        for round in 0..<50 {
            // Each round: a new key, queued, taken and finished; the freed slot goes to the next round's key.
            _ = queue.enqueue(queued(UInt64(round * 2), key: "key-\(round)"))
            _ = queue.enqueue(queued(UInt64(round * 2 + 1), key: "key-\(round)"))
            let firstTaken = queue.dequeue(for: WorkerID(1))
            let first = try #require(firstTaken)
            _ = queue.jobFinished(first, by: WorkerID(1))
            let secondTaken = queue.dequeue(for: WorkerID(1))
            let second = try #require(secondTaken)
            #expect(second.id.rawValue == UInt64(round * 2 + 1))
            #expect(queue.dequeue(for: WorkerID(1)) == nil, "round \(round): nothing else waits")
            _ = queue.jobFinished(second, by: WorkerID(1))
            #expect(queue.count == 0)
        }
        #expect(queue.depths().ownedKeys[WorkerID(1)] == 50, "every key seen is still counted as owned")
    }

    @Test("keys are their UTF-8 bytes: two spellings of one accented letter are two keys, each on its own worker")
    func keysAreBytes() throws {
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed, "Swift calls them equal")
        var queue = KeyedQueues()
        var workers = [WorkerID(1), WorkerID(2)]
        while queue.owner(of: composed) == queue.owner(of: decomposed) {
            workers.append(WorkerID(workers.count + 1))
            queue.workersChanged(to: workers)
        }
        let first = try #require(queue.owner(of: composed))
        let second = try #require(queue.owner(of: decomposed))
        _ = queue.enqueue(queued(1, key: composed))
        _ = queue.enqueue(queued(2, key: decomposed))
        #expect(queue.dequeue(for: first)?.id == JobID(1))
        #expect(queue.dequeue(for: second)?.id == JobID(2), "not held behind the other spelling's running job")
    }

    @Test("a key that goes idle and busy again many times, among others that come and go, is served once per job, in order")
    func parkedSlotsChurn() throws {
        var queue = KeyedQueues(idleSlotsKept: 3)
        queue.workersChanged(to: [WorkerID(1)])
        var next: UInt64 = 0
        for round in 0..<200 {
            // The steady key and one passing key per round: the steady key's slot is parked and unparked each
            // round while passing keys push the parked list past its limit.
            for key in ["steady", "passing-\(round % 7)"] {
                next += 1
                _ = queue.enqueue(queued(next, key: key))
                next += 1
                _ = queue.enqueue(queued(next, key: key))
            }
            var served: [UInt64] = []
            while let job = queue.dequeue(for: WorkerID(1)) {
                served.append(job.id.rawValue)
                _ = queue.jobFinished(job, by: WorkerID(1))
            }
            #expect(served.sorted() == Array((next - 3)...next), "round \(round): each job once")
            let (steadyFirst, steadySecond) = (served.firstIndex(of: next - 3), served.firstIndex(of: next - 2))
            #expect(steadyFirst != nil && steadySecond != nil && steadyFirst! < steadySecond!, "round \(round): in order per key")
            #expect(queue.count == 0)
        }
    }

    @Test(
        "jobs queued but not yet taken (still in their place's inbox) move with their key when workers change, in order, and are seen by eviction, the snapshot and shutdown"
    )
    func untakenJobsFollowTheirKeys() throws {
        var queue = KeyedQueues()
        queue.workersChanged(to: [WorkerID(1)])
        for id in 1...3 { _ = queue.enqueue(queued(UInt64(id), key: "k", at: Int64(id))) }
        #expect(queue.depths().perWorker[WorkerID(1)] == 3 && queue.depths().ownedKeys[WorkerID(1)] == 1)
        // Nobody took anything yet; the key moves to a new worker, which gets its jobs in order.
        let newOwner = try #require(growUntilMoved("k", from: WorkerID(1), in: &queue))
        #expect(queue.dequeue(for: WorkerID(1)) == nil, "the old owner has none of them")
        #expect(queue.depths().perWorker[newOwner] == 3)
        var served: [UInt64] = []
        while let job = queue.dequeue(for: newOwner) {
            served.append(job.id.rawValue)
            _ = queue.jobFinished(job, by: newOwner)
        }
        #expect(served == [1, 2, 3])
        // Eviction takes the oldest, whether or not a worker has looked at the queue since.
        for id in 4...6 { _ = queue.enqueue(queued(UInt64(id), key: "k", at: Int64(id))) }
        #expect(queue.evict()?.id == JobID(4))
        #expect(queue.count == 2)
        // Shutdown gets every job back, once.
        _ = queue.enqueue(queued(7, key: "other", at: 7))
        #expect(queue.removeAll().map(\.id.rawValue).sorted() == [5, 6, 7])
        #expect(queue.count == 0 && queue.depths().total == 0)
        #expect(queue.dequeue(for: newOwner) == nil && queue.dequeue(for: WorkerID(1)) == nil)
    }

    /// Adds workers 2, 3, ... to a queue whose only worker is `owner` until `key` belongs to another; that one.
    private func growUntilMoved(_ key: String, from owner: WorkerID, in queue: inout KeyedQueues) -> WorkerID? {
        var workers = [owner]
        var next = owner.rawValue + 1
        while queue.owner(of: key) == owner {
            workers.append(WorkerID(next))
            next += 1
            queue.workersChanged(to: workers)
        }
        return queue.owner(of: key)
    }
}
