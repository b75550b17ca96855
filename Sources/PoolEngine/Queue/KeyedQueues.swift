import DequeModule

/// Dedicated workers: a job's key picks its worker by jump consistent hash, so each key is served by one
/// worker at a time and a key's jobs run in submission order. Jobs without a key go to a shared queue that
/// any worker takes from when it has no keyed work.
///
/// Layout: a key with jobs waiting or running is interned in a slot (its FIFO, its worker, its running
/// count), found by one hash of the key when a job is queued; the job carries the slot, so taking it and
/// finishing it hash nothing. Each worker has a round-robin list of the slots it owns with jobs waiting, so
/// re-homing a key is O(1) whatever its backlog, and a worker serves its keys fairly (up to
/// ``jobsPerTurn`` jobs of a key per turn) rather than draining one key's backlog first. A slot is freed
/// when its key has nothing waiting or running.
///
/// Re-homing: workers sit in numbered places, and a key's place is `jumpConsistentHash(key, places)`. A
/// new worker takes a new last place, so growing moves only the keys that now hash to it; the strategy asks
/// the pool to retire its newest workers first, so shrinking moves only the keys of the removed places; a
/// crashed worker's replacement takes over its place, so replacing moves no key. While a key's jobs still
/// run on its old owner, the new owner passes over that key; the old owner's last finish wakes the new one.
/// So two jobs of one key never run at once. (A retried attempt re-enters its key's FIFO at the back.)
///
/// Taking ahead (see ``PoolConfiguration/takeAhead``): a worker may take several jobs of its keys at once,
/// even several of one key, since it runs them one after another in order; they are never handed to
/// another worker (``allowsMovingTakenJobs`` is false), and jobs put back return to the front of their
/// key's FIFO.
public struct KeyedQueues: QueueStrategy {
    /// One live key: jobs waiting or running.
    struct KeySlot {
        var key: String
        var hash: UInt64
        var pending = Deque<QueuedJob>()
        /// The worker whose ready list holds this key, while jobs wait (nil: none, or no worker yet).
        var home: WorkerID?
        /// The worker running this key's jobs, and how many it has taken and not yet finished.
        var runner: WorkerID?
        var running = 0
        /// Bumped each time the key joins a ready list: only the entry with the current ticket is live, so
        /// entries left behind by a move or by a freed and reused slot are skipped when met.
        var ticket: UInt32 = 0
        /// Jobs served in this key's current turn on its worker's ready list.
        var servedThisTurn = 0

        var isIdle: Bool { pending.isEmpty && running == 0 }
    }

    struct ReadyEntry {
        var slot: Int32
        var ticket: UInt32
    }

    private var places: [WorkerID] = []
    private var slots: [KeySlot] = []
    private var slotOfKey: [String: Int32] = [:]
    private var freeSlots: [Int32] = []
    /// Per worker, its keys with waiting jobs, served round-robin.
    private var ready: [WorkerID: Deque<ReadyEntry>] = [:]
    private var waitingPerWorker: [WorkerID: Int] = [:]
    private var unkeyed = Deque<QueuedJob>()
    /// Every key seen (up to ``trackedKeyLimit``), for the snapshot's count of keys per worker.
    private var knownKeys: Set<String> = []
    private var ownedKeyCounts: [WorkerID: Int] = [:]
    /// What the last change of workers did to the known keys.
    private var lastResize: KeyMovement?
    private(set) public var count = 0
    /// Keys beyond this many are still placed correctly but no longer counted per worker.
    public static let trackedKeyLimit = 100_000
    /// A worker serves up to this many jobs of a key per turn before the next key: a backlog is then read
    /// in runs (one key's jobs lie together in memory) rather than one job per key, which on 1,024 keys with
    /// deep backlogs made nearly every take a cache miss. Fairness between keys is per turn, as before.
    public static let jobsPerTurn = 8

    public init() {}

    /// The worker that owns `key` now, if there is any worker.
    public func owner(of key: String) -> WorkerID? { owner(ofHash: stableKeyHash(key)) }

    private func owner(ofHash hash: UInt64) -> WorkerID? {
        guard !places.isEmpty else { return nil }
        return places[jumpConsistentHash(key: hash, buckets: places.count)]
    }

    public mutating func enqueue(_ job: QueuedJob) -> DispatchTarget {
        count += 1
        guard let key = job.job.key else {
            unkeyed.append(job)
            return .anyWorker
        }
        let slot = intern(key)
        var job = job
        job.keySlot = slot
        let index = Int(slot)
        slots[index].pending.append(job)
        if let current = slots[index].home {
            waitingPerWorker[current, default: 0] += 1
            return .worker(current)
        }
        guard let owner = owner(ofHash: slots[index].hash) else { return .anyWorker }
        place(index, on: owner)
        return .worker(owner)
    }

    /// The slot of `key`, taking a free one if the key is not live.
    private mutating func intern(_ key: String) -> Int32 {
        if let slot = slotOfKey[key] { return slot }
        if knownKeys.count < Self.trackedKeyLimit, knownKeys.insert(key).inserted, let owner = owner(of: key) {
            ownedKeyCounts[owner, default: 0] += 1
        }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            // The ticket goes on counting, so entries of the slot's previous key stay dead.
            slots[Int(free)] = KeySlot(key: key, hash: stableKeyHash(key), ticket: slots[Int(free)].ticket &+ 1)
        } else {
            slot = Int32(slots.count)
            slots.append(KeySlot(key: key, hash: stableKeyHash(key)))
        }
        slotOfKey[key] = slot
        return slot
    }

    /// Frees a slot whose key has nothing waiting or running.
    private mutating func releaseIfIdle(_ index: Int) {
        guard slots[index].isIdle else { return }
        slotOfKey[slots[index].key] = nil
        slots[index].home = nil
        slots[index].runner = nil
        slots[index].ticket &+= 1
        slots[index].pending = Deque()
        freeSlots.append(Int32(index))
    }

    /// Puts a key (with its waiting jobs) on `worker`'s ready list.
    private mutating func place(_ index: Int, on worker: WorkerID) {
        slots[index].home = worker
        waitingPerWorker[worker, default: 0] += slots[index].pending.count
        list(index, on: worker)
    }

    private mutating func list(_ index: Int, on worker: WorkerID, first: Bool = false) {
        slots[index].ticket &+= 1
        let entry = ReadyEntry(slot: Int32(index), ticket: slots[index].ticket)
        if first { ready[worker, default: []].prepend(entry) } else { ready[worker, default: []].append(entry) }
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        if let job = nextKeyed(for: worker) { return job }
        guard let job = unkeyed.popFirst() else { return nil }
        count -= 1
        return job
    }

    private mutating func nextKeyed(for worker: WorkerID) -> QueuedJob? {
        var passes = ready[worker]?.count ?? 0
        while passes > 0, let entry = ready[worker]?.popFirst() {
            passes -= 1
            let index = Int(entry.slot)
            guard slots[index].ticket == entry.ticket, slots[index].home == worker, !slots[index].pending.isEmpty else {
                continue  // left behind by a move, an emptied FIFO or a reused slot
            }
            if slots[index].running > 0, slots[index].runner != worker {
                list(index, on: worker)  // still running on its previous owner: pass over it for now
                continue
            }
            guard let job = slots[index].pending.popFirst() else { continue }
            count -= 1
            waitingPerWorker[worker, default: 0] -= 1
            slots[index].runner = worker
            slots[index].running += 1
            slots[index].servedThisTurn += 1
            if slots[index].pending.isEmpty {
                slots[index].home = nil
                slots[index].servedThisTurn = 0
            } else if slots[index].servedThisTurn < Self.jobsPerTurn {
                list(index, on: worker, first: true)  // its turn goes on
            } else {
                slots[index].servedThisTurn = 0
                list(index, on: worker)
            }
            return job
        }
        return nil
    }

    /// The slot a keyed job taken from this strategy still holds, if it is the live one of its key.
    private func liveSlot(of job: QueuedJob) -> Int? {
        let index = Int(job.keySlot)
        guard job.job.key != nil, index >= 0, index < slots.count, slots[index].running > 0,
            slots[index].key == job.job.key
        else { return nil }
        return index
    }

    public mutating func jobFinished(_ job: QueuedJob, by worker: WorkerID) -> DispatchTarget? {
        guard let index = liveSlot(of: job), slots[index].runner == worker else { return nil }
        slots[index].running -= 1
        guard slots[index].running == 0 else { return nil }
        slots[index].runner = nil
        if let next = slots[index].home {
            return next != worker ? .worker(next) : nil
        }
        releaseIfIdle(index)
        return nil
    }

    public var allowsTakingAhead: Bool { true }

    /// Only keyed jobs: they stay with their worker anyway, while a job without a key taken ahead could
    /// not be moved to an idle worker (``allowsMovingTakenJobs``) and would wait behind a long job.
    public mutating func takeAhead(for worker: WorkerID) -> QueuedJob? { nextKeyed(for: worker) }

    public var allowsMovingTakenJobs: Bool { false }

    public mutating func putBack(_ taken: [QueuedJob]) -> [DispatchTarget] {
        var targets: [DispatchTarget] = []
        for job in taken.reversed() {
            count += 1
            guard let index = liveSlot(of: job) else {
                unkeyed.prepend(job)
                targets.append(.anyWorker)
                continue
            }
            slots[index].running -= 1
            if slots[index].running == 0 { slots[index].runner = nil }
            slots[index].pending.prepend(job)
            if let home = slots[index].home {
                waitingPerWorker[home, default: 0] += 1
                targets.append(.worker(home))
            } else if let owner = owner(ofHash: slots[index].hash) {
                place(index, on: owner)
                targets.append(.worker(owner))
            } else {
                targets.append(.anyWorker)
            }
        }
        return targets
    }

    public mutating func evict() -> QueuedJob? {
        if let job = unkeyed.popFirst() {
            count -= 1
            return job
        }
        var oldest: Int?
        for index in slots.indices {
            guard let first = slots[index].pending.first else { continue }
            if let best = oldest, let bestFirst = slots[best].pending.first, bestFirst.enqueuedAt <= first.enqueuedAt { continue }
            oldest = index
        }
        guard let index = oldest, let job = slots[index].pending.popFirst() else { return nil }
        count -= 1
        if let owner = slots[index].home { waitingPerWorker[owner, default: 0] -= 1 }
        if slots[index].pending.isEmpty {
            slots[index].home = nil
            releaseIfIdle(index)
        }
        return job
    }

    public mutating func removeAll() -> [QueuedJob] {
        var all = Array(unkeyed)
        for index in slots.indices where !slots[index].pending.isEmpty {
            all.append(contentsOf: slots[index].pending)
            slots[index].pending = Deque()
            slots[index].home = nil
            releaseIfIdle(index)
        }
        ready.removeAll()
        waitingPerWorker.removeAll()
        unkeyed.removeAll()
        count = 0
        return all
    }

    public func workersToRetire(count: Int, from workers: [WorkerID]) -> [WorkerID]? {
        let present = Set(workers)
        return Array(places.reversed().filter { present.contains($0) }.prefix(count))
    }

    public mutating func workersChanged(to workers: [WorkerID]) {
        let staying = Set(workers)
        var joining = workers.filter { !places.contains($0) }
        var newPlaces: [WorkerID?] = places.map { staying.contains($0) ? $0 : nil }
        // A joining worker takes over a freed place (a replacement moves no key) ...
        for index in newPlaces.indices where newPlaces[index] == nil && !joining.isEmpty {
            newPlaces[index] = joining.removeFirst()
        }
        // ... freed places at the end disappear (the keys of the last buckets move, as jump hash requires) ...
        func dropTrailingHoles() { while let last = newPlaces.last, last == nil { newPlaces.removeLast() } }
        dropTrailingHoles()
        // ... and a freed place in the middle is taken by the last worker.
        var index = 0
        while index < newPlaces.count {
            if newPlaces[index] == nil, let last = newPlaces.popLast() {
                newPlaces[index] = last
                dropTrailingHoles()
            }
            index += 1
        }
        let before = places
        places = newPlaces.compactMap { $0 } + joining
        if before != places && !before.isEmpty {
            var moved = 0
            for key in knownKeys {
                let hash = stableKeyHash(key)
                if before[jumpConsistentHash(key: hash, buckets: before.count)] != owner(ofHash: hash) { moved += 1 }
            }
            lastResize = KeyMovement(fromWorkers: before.count, toWorkers: places.count, moved: moved, keys: knownKeys.count)
        }
        rehome()
    }

    /// Moves every key with waiting jobs whose owner changed to its new owner (O(live keys)), and recounts
    /// the keys each worker owns.
    private mutating func rehome() {
        let live = Set(places)
        for worker in ready.keys where !live.contains(worker) { ready[worker] = nil }
        for worker in waitingPerWorker.keys where !live.contains(worker) { waitingPerWorker[worker] = nil }
        for index in slots.indices where !slots[index].pending.isEmpty {
            let owner = owner(ofHash: slots[index].hash)
            guard slots[index].home != owner else { continue }
            if let previous = slots[index].home, live.contains(previous) {
                waitingPerWorker[previous, default: 0] -= slots[index].pending.count
            }
            slots[index].home = nil
            if let owner { place(index, on: owner) }
        }
        ownedKeyCounts = [:]
        for key in knownKeys {
            guard let owner = owner(of: key) else { continue }
            ownedKeyCounts[owner, default: 0] += 1
        }
    }

    public func depths() -> QueueDepths {
        var perWorker: [WorkerID: Int] = [:]
        var owned: [WorkerID: Int] = [:]
        for id in places {
            perWorker[id] = waitingPerWorker[id] ?? 0
            owned[id] = ownedKeyCounts[id] ?? 0
        }
        let homeless = slots.reduce(0) { $0 + ($1.home == nil ? $1.pending.count : 0) }
        var depths = QueueDepths(shared: unkeyed.count + homeless, perWorker: perWorker, ownedKeys: owned)
        depths.lastKeyMovement = lastResize
        return depths
    }
}
