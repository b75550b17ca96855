import DequeModule

/// Dedicated workers: a job's key picks its worker by jump consistent hash, so each key is served by one
/// worker at a time and a key's jobs run in submission order. Jobs without a key go to a shared queue that
/// any worker takes from when it has no keyed work.
///
/// Layout: a queued keyed job goes to its place's inbox (see `inbox`), which is sorted into the keys'
/// slots when a job is next taken for that place. A key with jobs waiting or running is interned in a slot (its
/// FIFO, its worker, its running count), found by one hash of the key as its job is sorted; the job carries
/// the slot, so taking it and finishing it hash nothing. Each worker has a round-robin list of the slots it owns with jobs waiting, so
/// re-homing a key is O(1) whatever its backlog, and a worker serves its keys fairly (up to
/// ``jobsPerTurn`` jobs of a key per turn) rather than draining one key's backlog first. A key with nothing
/// waiting or running keeps its slot, parked, for its next job (up to 4,096 such keys, oldest freed first),
/// so keys that come and go are not hashed and set up again each time. Workers sit in places, and per-place
/// state lives in arrays, so serving a job looks nothing up by worker.
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
    /// One live key: jobs waiting or running (or, parked, none: see ``idleSlotsKept``).
    struct KeySlot {
        var key: String
        var hash: UInt64
        var pending = Deque<QueuedJob>()
        /// The place whose ready list holds this key, while jobs wait (-1: none, or no worker yet).
        var home: Int32 = -1
        /// The worker running this key's jobs, and how many it has taken and not yet finished.
        var runner: WorkerID?
        var running = 0
        /// Bumped each time the key joins a ready list: only the entry with the current ticket is live, so
        /// entries left behind by a move or by a freed and reused slot are skipped when met.
        var ticket: UInt32 = 0
        /// Jobs served in this key's current turn on its worker's ready list.
        var servedThisTurn = 0
        /// Bumped when the slot is freed, so a parked entry from the slot's earlier life is skipped.
        var generation: UInt32 = 0
        /// Whether an entry for this slot's current life is in the parked list (so it gets one, not one per
        /// time its key goes idle).
        var isParked = false

        var isIdle: Bool { pending.isEmpty && running == 0 }
    }

    struct ReadyEntry {
        var slot: Int32
        var ticket: UInt32
    }

    /// A key in the slot index, hashed by its stable hash (computed once per job, and cheaper than
    /// hashing the string itself).
    struct IndexKey: Hashable {
        var key: String
        var hash: UInt64

        /// Keys are their UTF-8 bytes, as the jump hash that places them sees them (`String`'s `==` would
        /// merge canonically equal keys with different bytes, which hash to different places). The bytes are
        /// compared in place when the strings hold them contiguously (small and native strings do).
        static func == (lhs: IndexKey, rhs: IndexKey) -> Bool {
            guard lhs.hash == rhs.hash else { return false }
            let inPlace = lhs.key.utf8.withContiguousStorageIfAvailable { left in
                rhs.key.utf8.withContiguousStorageIfAvailable { right in left.elementsEqual(right) }
            }
            return (inPlace ?? nil) ?? lhs.key.utf8.elementsEqual(rhs.key.utf8)
        }
        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
        /// The key's stable hash mixed with the table's seed (SplitMix64's finaliser) instead of SipHash: one
        /// lookup per keyed job is made under the pool's lock, and the stable hash is already well mixed.
        func _rawHashValue(seed: Int) -> Int {
            Int(truncatingIfNeeded: SeededRandom.mix(hash ^ UInt64(bitPattern: Int64(seed))))
        }
    }

    struct ParkedSlot {
        var slot: Int32
        var generation: UInt32
    }

    /// The workers in their numbered places (a key's place is its jump hash over `places.count`).
    private var places: [WorkerID] = []
    private var placeOfWorker: [WorkerID: Int] = [:]
    /// The last worker asked for and its place: a worker taking jobs ahead asks once per job.
    private var lastAsked: (worker: WorkerID, place: Int)?
    /// Per place: its keys with waiting jobs, served round-robin; how many jobs they hold; how many known
    /// keys hash to it.
    private var ready: [Deque<ReadyEntry>] = []
    private var waiting: [Int] = []
    private var ownedKeyCounts: [Int] = []
    private var slots: [KeySlot] = []
    private var slotOfKey: [IndexKey: Int32] = [:]
    private var freeSlots: [Int32] = []
    /// Slots whose key has nothing waiting or running, oldest first, kept for the key's next job.
    private var parked = Deque<ParkedSlot>()
    private let idleSlotsKept: Int
    private var unkeyed = Deque<QueuedJob>()
    /// Per place: keyed jobs queued since a job was last taken there, in arrival order. The submitter only
    /// appends here (memory it wrote last, in order, as the shared queue's), and the inbox is sorted into
    /// the keys' FIFOs when a job is next taken for that place: mostly by the place's own worker, so the
    /// keys' FIFOs mostly stay in one core's cache rather than moving between the submitter's core and the
    /// worker's with every job. (A submitter waking a parked worker takes its first job, and sorts then.)
    private var inbox: [Deque<QueuedJob>] = []
    /// Every key seen (up to ``trackedKeyLimit``), for the snapshot's count of keys per worker.
    private var knownKeys: Set<String> = []
    /// Hashes of keys already counted in `knownKeys` (or met after it was full), one per slot `hash % 4096`,
    /// so that a key met again is known by one load on the submitter's side rather than by hashing the
    /// string into the set. (Two keys with one 64-bit hash would count as one; the count is for display.)
    private var recentlyKnown = [UInt64](repeating: 0, count: 4_096)
    /// What the last change of workers did to the known keys.
    private var lastResize: KeyMovement?
    private(set) public var count = 0
    /// Keys beyond this many are still placed correctly but no longer counted per worker.
    public static let trackedKeyLimit = 100_000
    /// A worker serves up to this many jobs of a key per turn before the next key: a backlog is then read
    /// in runs (one key's jobs lie together in memory) rather than one job per key, which on 1,024 keys with
    /// deep backlogs made nearly every take a cache miss. Fairness between keys is per turn, as before.
    public static let jobsPerTurn = 8

    /// A keyed strategy that keeps the slots of up to 4,096 keys with nothing to do, so a key that comes
    /// and goes (the usual case: a customer's, a device's jobs) is not hashed and set up again each time.
    public init() { self.init(idleSlotsKept: 4_096) }

    /// `idleSlotsKept: 0` frees a key's slot as soon as its last job ends (for tests of slot reuse).
    init(idleSlotsKept: Int) { self.idleSlotsKept = max(idleSlotsKept, 0) }

    /// The worker that owns `key` now, if there is any worker.
    public func owner(of key: String) -> WorkerID? { place(ofHash: stableKeyHash(key)).map { places[$0] } }

    private func place(ofHash hash: UInt64) -> Int? {
        guard !places.isEmpty else { return nil }
        return Int(jumpConsistentHash(key: hash, buckets: places.count))
    }

    public mutating func enqueue(_ job: consuming QueuedJob) -> DispatchTarget {
        count += 1
        guard let key = job.job.key else {
            unkeyed.append(job)
            return .anyWorker
        }
        let hash = stableKeyHash(key)
        if let place = place(ofHash: hash) {
            noteKnown(key, hash: hash, place: place)
            inbox[place].append(job)
            waiting[place] += 1
            return .worker(places[place])
        }
        // No worker yet: known, and counted per worker when workers arrive (`rehome`).
        if knownKeys.count < Self.trackedKeyLimit { knownKeys.insert(key) }
        let index = intern(key)
        job.keySlot = Int32(index)
        job.keyGeneration = slots[index].generation
        slots[index].pending.append(job)
        let home = Int(slots[index].home)
        if home >= 0 {
            waiting[home] += 1
            return .worker(places[home])
        }
        guard let place = place(ofHash: slots[index].hash) else { return .anyWorker }
        put(index, on: place)
        return .worker(places[place])
    }

    /// Counts `key` among the known keys (and `place`'s owned ones) the first time it is met, on arrival, so
    /// the snapshot's counts include keys whose jobs still wait in an inbox. (Interning counts nothing: a
    /// key whose slot was freed and is taken again is not hashed into the set again.)
    private mutating func noteKnown(_ key: String, hash: UInt64, place: Int) {
        let slot = Int(truncatingIfNeeded: hash & 4_095)
        guard hash == 0 || recentlyKnown[slot] != hash else { return }
        if knownKeys.count < Self.trackedKeyLimit, knownKeys.insert(key).inserted { ownedKeyCounts[place] += 1 }
        recentlyKnown[slot] = hash
    }

    /// Sorts `place`'s inbox into its keys' FIFOs, listing on `place`'s ready list each key that had nothing
    /// waiting (the jobs are already counted in `waiting[place]`).
    private mutating func sortInbox(of place: Int) {
        while var job = inbox[place].popFirst() {
            guard let key = job.job.key else {  // never: only keyed jobs come here; kept all the same
                waiting[place] -= 1
                unkeyed.append(job)
                continue
            }
            let index = intern(key)
            job.keySlot = Int32(index)
            job.keyGeneration = slots[index].generation
            slots[index].pending.append(job)
            if slots[index].home < 0 {
                slots[index].home = Int32(place)
                slots[index].servedThisTurn = 0
                list(index, on: place)
            }
        }
    }

    /// Sorts every inbox (before anything that looks at all keys, or moves them).
    private mutating func sortInboxes() {
        for place in inbox.indices where !inbox[place].isEmpty { sortInbox(of: place) }
    }

    /// The slot of `key`, taking a free one if the key has none.
    private mutating func intern(_ key: String) -> Int {
        let hash = stableKeyHash(key)
        let indexKey = IndexKey(key: key, hash: hash)
        if let slot = slotOfKey[indexKey] { return Int(slot) }
        let index: Int
        if let free = freeSlots.popLast() {
            index = Int(free)
            // The ticket and generation go on counting, so entries of the slot's previous key stay dead.
            let old = slots[index]
            slots[index] = KeySlot(key: key, hash: hash, ticket: old.ticket &+ 1, generation: old.generation)
        } else {
            index = slots.count
            slots.append(KeySlot(key: key, hash: hash))
        }
        slotOfKey[indexKey] = Int32(index)
        return index
    }

    /// Parks a slot whose key has nothing waiting or running; frees the oldest parked beyond the limit.
    private mutating func parkIfIdle(_ index: Int) {
        guard slots[index].isIdle else { return }
        guard idleSlotsKept > 0 else { return free(index) }
        guard !slots[index].isParked else { return }
        slots[index].isParked = true
        parked.append(ParkedSlot(slot: Int32(index), generation: slots[index].generation))
        while parked.count > idleSlotsKept, let oldest = parked.popFirst() {
            let slot = Int(oldest.slot)
            guard slots[slot].generation == oldest.generation else { continue }
            slots[slot].isParked = false
            if slots[slot].isIdle { free(slot) }
        }
    }

    private mutating func free(_ index: Int) {
        slotOfKey[IndexKey(key: slots[index].key, hash: slots[index].hash)] = nil
        slots[index].home = -1
        slots[index].runner = nil
        slots[index].ticket &+= 1
        slots[index].generation &+= 1
        slots[index].isParked = false
        slots[index].pending = Deque()
        freeSlots.append(Int32(index))
    }

    /// Puts a key (with its waiting jobs) on a place's ready list.
    private mutating func put(_ index: Int, on place: Int) {
        slots[index].home = Int32(place)
        slots[index].servedThisTurn = 0
        waiting[place] += slots[index].pending.count
        list(index, on: place)
    }

    private mutating func list(_ index: Int, on place: Int) {
        slots[index].ticket &+= 1
        ready[place].append(ReadyEntry(slot: Int32(index), ticket: slots[index].ticket))
    }

    private mutating func place(of worker: WorkerID) -> Int? {
        if let lastAsked, lastAsked.worker == worker { return lastAsked.place }
        guard let place = placeOfWorker[worker] else { return nil }
        lastAsked = (worker, place)
        return place
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        if let place = place(of: worker), let job = nextKeyed(at: place) { return job }
        guard let job = unkeyed.popFirst() else { return nil }
        count -= 1
        return job
    }

    /// The next job of the keys on `place`'s ready list. A key being served stays first on the list until
    /// its turn ends, so a run of its jobs costs no list traffic.
    private mutating func nextKeyed(at place: Int) -> QueuedJob? {
        if !inbox[place].isEmpty { sortInbox(of: place) }
        let worker = places[place]
        var passes = ready[place].count
        while passes > 0, let entry = ready[place].first {
            passes -= 1
            let index = Int(entry.slot)
            guard slots[index].ticket == entry.ticket, Int(slots[index].home) == place, !slots[index].pending.isEmpty else {
                ready[place].removeFirst()  // left behind by a move, an emptied FIFO or a reused slot
                continue
            }
            if slots[index].running > 0, slots[index].runner != worker {
                ready[place].removeFirst()
                list(index, on: place)  // still running on its previous owner: pass over it for now
                continue
            }
            guard let job = slots[index].pending.popFirst() else { continue }
            count -= 1
            waiting[place] -= 1
            slots[index].runner = worker
            slots[index].running += 1
            slots[index].servedThisTurn += 1
            if slots[index].pending.isEmpty {
                slots[index].home = -1
                slots[index].servedThisTurn = 0
                ready[place].removeFirst()
            } else if slots[index].servedThisTurn >= Self.jobsPerTurn {
                slots[index].servedThisTurn = 0
                ready[place].removeFirst()
                list(index, on: place)
            }
            return job
        }
        return nil
    }

    /// The slot a keyed job taken from this strategy still holds, if it is the live one of its key.
    private func liveSlot(of job: QueuedJob) -> Int? {
        let index = Int(job.keySlot)
        // The slot's life the job was queued in: a slot is never freed while its jobs wait or run, so this
        // only guards against a job this strategy did not queue.
        guard index >= 0, index < slots.count, slots[index].running > 0, slots[index].generation == job.keyGeneration
        else { return nil }
        return index
    }

    public mutating func jobFinished(_ job: QueuedJob, by worker: WorkerID) -> DispatchTarget? {
        guard let index = liveSlot(of: job), slots[index].runner == worker else { return nil }
        slots[index].running -= 1
        guard slots[index].running == 0 else { return nil }
        slots[index].runner = nil
        // Jobs of this key may still wait unsorted in its place's inbox (that place's worker has not taken
        // since, e.g. held by a rate limit): sorted now, so the key gets a home and that worker is woken.
        if slots[index].home < 0, let place = place(ofHash: slots[index].hash), !inbox[place].isEmpty {
            sortInbox(of: place)
        }
        let home = Int(slots[index].home)
        if home >= 0 {
            return places[home] != worker ? .worker(places[home]) : nil
        }
        parkIfIdle(index)
        return nil
    }

    public var allowsTakingAhead: Bool { true }

    /// Only keyed jobs: they stay with their worker anyway, while a job without a key taken ahead could
    /// not be moved to an idle worker (``allowsMovingTakenJobs``) and would wait behind a long job.
    public mutating func takeAhead(for worker: WorkerID) -> QueuedJob? {
        guard let place = place(of: worker) else { return nil }
        return nextKeyed(at: place)
    }

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
            let home = Int(slots[index].home)
            if home >= 0 {
                waiting[home] += 1
                targets.append(.worker(places[home]))
            } else if let place = place(ofHash: slots[index].hash) {
                put(index, on: place)
                targets.append(.worker(places[place]))
            } else {
                targets.append(.anyWorker)
            }
        }
        return targets
    }

    /// The job that has waited longest, keyed or not (the first of each key's FIFO and of the unkeyed
    /// queue are the candidates; on a tie, the unkeyed one).
    public mutating func evict() -> QueuedJob? {
        sortInboxes()
        var oldest: Int?
        for index in slots.indices {
            guard let first = slots[index].pending.first else { continue }
            if let best = oldest, let bestFirst = slots[best].pending.first, bestFirst.enqueuedAt <= first.enqueuedAt { continue }
            oldest = index
        }
        let oldestKeyedAt = oldest.flatMap { slots[$0].pending.first?.enqueuedAt }
        if let unkeyedFirst = unkeyed.first, oldestKeyedAt.map({ unkeyedFirst.enqueuedAt <= $0 }) ?? true {
            count -= 1
            return unkeyed.popFirst()
        }
        guard let index = oldest, let job = slots[index].pending.popFirst() else { return nil }
        count -= 1
        let home = Int(slots[index].home)
        if home >= 0 { waiting[home] -= 1 }
        if slots[index].pending.isEmpty {
            slots[index].home = -1
            parkIfIdle(index)
        }
        return job
    }

    public mutating func removeAll() -> [QueuedJob] {
        sortInboxes()
        var all = Array(unkeyed)
        for index in slots.indices where !slots[index].pending.isEmpty {
            all.append(contentsOf: slots[index].pending)
            slots[index].pending.removeAll()
            slots[index].home = -1
            parkIfIdle(index)
        }
        for place in ready.indices {
            ready[place].removeAll()
            waiting[place] = 0
        }
        unkeyed.removeAll()
        count = 0
        return all
    }

    public func workersToRetire(count: Int, from workers: [WorkerID]) -> [WorkerID]? {
        let present = Set(workers)
        return Array(places.reversed().filter { present.contains($0) }.prefix(count))
    }

    public mutating func workersChanged(to workers: [WorkerID]) {
        sortInboxes()  // on the places the jobs were queued for, before the places change
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
                if before[Int(jumpConsistentHash(key: hash, buckets: before.count))] != owner(of: key) { moved += 1 }
            }
            lastResize = KeyMovement(fromWorkers: before.count, toWorkers: places.count, moved: moved, keys: knownKeys.count)
        }
        rehome()
    }

    /// Lays the ready lists out again for the new places, every key with waiting jobs on its owner's
    /// (O(live keys)), and recounts the keys each place owns.
    private mutating func rehome() {
        placeOfWorker = Dictionary(uniqueKeysWithValues: places.enumerated().map { ($1, $0) })
        lastAsked = nil
        ready = Array(repeating: [], count: places.count)
        waiting = Array(repeating: 0, count: places.count)
        inbox = Array(repeating: [], count: places.count)
        ownedKeyCounts = Array(repeating: 0, count: places.count)
        for index in slots.indices {
            slots[index].home = -1
            guard !slots[index].pending.isEmpty, let place = place(ofHash: slots[index].hash) else { continue }
            put(index, on: place)
        }
        for key in knownKeys {
            guard let place = place(ofHash: stableKeyHash(key)) else { continue }
            ownedKeyCounts[place] += 1
        }
    }

    public func depths() -> QueueDepths {
        var perWorker: [WorkerID: Int] = [:]
        var owned: [WorkerID: Int] = [:]
        for (place, id) in places.enumerated() {
            perWorker[id] = waiting[place]
            owned[id] = ownedKeyCounts[place]
        }
        let homeless = slots.reduce(0) { $0 + ($1.home < 0 ? $1.pending.count : 0) }
        var depths = QueueDepths(shared: unkeyed.count + homeless, perWorker: perWorker, ownedKeys: owned)
        depths.lastKeyMovement = lastResize
        return depths
    }
}
