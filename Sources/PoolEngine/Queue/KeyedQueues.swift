import DequeModule

/// Dedicated workers: a job's key picks its worker by jump consistent hash, so each key is served by one
/// worker at a time and a key's jobs run in submission order. Jobs without a key go to a shared queue that
/// any worker takes from when it has no keyed work.
///
/// Layout: each key with waiting jobs has its own FIFO, and each worker a round-robin list of the keys it
/// owns that have jobs waiting. Re-homing a key is then O(1) whatever its backlog, and a worker serves its
/// keys fairly rather than draining one key's backlog first.
///
/// Re-homing: workers sit in numbered slots, and a key's slot is `jumpConsistentHash(key, slots)`. A new
/// worker takes a new last slot, so growing moves only the keys that now hash to it; the strategy asks the
/// pool to retire its newest workers first, so shrinking moves only the keys of the removed slots; a crashed
/// worker's replacement takes over its slot, so replacing moves no key. While a key's job still runs on its
/// old owner, the new owner passes over that key; the old owner's finish wakes the new one. So two jobs of
/// one key never run at once. (A retried attempt re-enters its key's FIFO at the back.)
public struct KeyedQueues: QueueStrategy {
    private var slots: [WorkerID] = []
    /// Waiting jobs per key, in submission order.
    private var pending: [String: Deque<QueuedJob>] = [:]
    /// The worker whose ready list holds each key with waiting jobs (absent: no worker yet).
    private var home: [String: WorkerID] = [:]
    /// Per worker, its keys with waiting jobs, served round-robin. Entries whose key has since moved or
    /// emptied are dropped lazily when met.
    private var ready: [WorkerID: Deque<String>] = [:]
    private var waitingPerWorker: [WorkerID: Int] = [:]
    private var unkeyed = Deque<QueuedJob>()
    /// Keys with a job running, and where.
    private var running: [String: WorkerID] = [:]
    /// Every key seen (up to ``trackedKeyLimit``), for the snapshot's count of keys per worker.
    private var knownKeys: Set<String> = []
    private var ownedKeyCounts: [WorkerID: Int] = [:]
    /// What the last change of workers did to the known keys.
    private var lastResize: KeyMovement?
    private(set) public var count = 0
    /// Keys beyond this many are still placed correctly but no longer counted per worker.
    public static let trackedKeyLimit = 100_000

    public init() {}

    /// The worker that owns `key` now, if there is any worker.
    public func owner(of key: String) -> WorkerID? {
        guard !slots.isEmpty else { return nil }
        return slots[jumpConsistentHash(key: stableKeyHash(key), buckets: slots.count)]
    }

    public mutating func enqueue(_ job: QueuedJob) -> DispatchTarget {
        count += 1
        guard let key = job.job.key else {
            unkeyed.append(job)
            return .anyWorker
        }
        if knownKeys.count < Self.trackedKeyLimit, knownKeys.insert(key).inserted, let owner = owner(of: key) {
            ownedKeyCounts[owner, default: 0] += 1
        }
        pending[key, default: []].append(job)
        if let current = home[key] {
            waitingPerWorker[current, default: 0] += 1
            return .worker(current)
        }
        guard let owner = owner(of: key) else { return .anyWorker }
        place(key, on: owner)
        return .worker(owner)
    }

    /// Puts a key (with its waiting jobs) on `worker`'s ready list.
    private mutating func place(_ key: String, on worker: WorkerID) {
        home[key] = worker
        ready[worker, default: []].append(key)
        waitingPerWorker[worker, default: 0] += pending[key]?.count ?? 0
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        var passes = ready[worker]?.count ?? 0
        while passes > 0, let key = ready[worker]?.popFirst() {
            passes -= 1
            // (`pending[key]?.isEmpty`, not a copy of the FIFO: a second reference would make the pop
            // below copy the whole backlog.)
            guard home[key] == worker, pending[key]?.isEmpty == false else { continue }
            if let runner = running[key], runner != worker {
                ready[worker]?.append(key)  // still running on its previous owner: pass over it for now
                continue
            }
            guard let job = pending[key]?.popFirst() else { continue }
            count -= 1
            waitingPerWorker[worker, default: 0] -= 1
            running[key] = worker
            if pending[key]?.isEmpty == true {
                pending[key] = nil
                home[key] = nil
            } else {
                ready[worker]?.append(key)
            }
            return job
        }
        guard let job = unkeyed.popFirst() else { return nil }
        count -= 1
        return job
    }

    public mutating func jobFinished(_ job: QueuedJob, by worker: WorkerID) -> DispatchTarget? {
        guard let key = job.job.key, running[key] == worker else { return nil }
        running[key] = nil
        guard let next = home[key], next != worker else { return nil }
        return .worker(next)
    }

    public mutating func evict() -> QueuedJob? {
        if let job = unkeyed.popFirst() {
            count -= 1
            return job
        }
        guard let (key, _) = pending.min(by: { ($0.value.first?.enqueuedAt ?? .zero) < ($1.value.first?.enqueuedAt ?? .zero) }),
            let job = pending[key]?.popFirst()
        else { return nil }
        count -= 1
        if let owner = home[key] { waitingPerWorker[owner, default: 0] -= 1 }
        if pending[key]?.isEmpty == true {
            pending[key] = nil
            home[key] = nil
        }
        return job
    }

    public mutating func removeAll() -> [QueuedJob] {
        var all = Array(unkeyed)
        for jobs in pending.values { all.append(contentsOf: jobs) }
        pending.removeAll()
        home.removeAll()
        ready.removeAll()
        waitingPerWorker.removeAll()
        unkeyed.removeAll()
        count = 0
        return all
    }

    public func workersToRetire(count: Int, from workers: [WorkerID]) -> [WorkerID]? {
        let present = Set(workers)
        return Array(slots.reversed().filter { present.contains($0) }.prefix(count))
    }

    public mutating func workersChanged(to workers: [WorkerID]) {
        let staying = Set(workers)
        var joining = workers.filter { !slots.contains($0) }
        var newSlots: [WorkerID?] = slots.map { staying.contains($0) ? $0 : nil }
        // A joining worker takes over a freed slot (a replacement moves no key) ...
        for index in newSlots.indices where newSlots[index] == nil && !joining.isEmpty {
            newSlots[index] = joining.removeFirst()
        }
        // ... freed slots at the end disappear (the keys of the last buckets move, as jump hash requires) ...
        func dropTrailingHoles() { while let last = newSlots.last, last == nil { newSlots.removeLast() } }
        dropTrailingHoles()
        // ... and a freed slot in the middle is taken by the last worker.
        var index = 0
        while index < newSlots.count {
            if newSlots[index] == nil, let last = newSlots.popLast() {
                newSlots[index] = last
                dropTrailingHoles()
            }
            index += 1
        }
        let before = slots
        slots = newSlots.compactMap { $0 } + joining
        if before != slots && !before.isEmpty {
            var moved = 0
            for key in knownKeys {
                let hash = stableKeyHash(key)
                let now: WorkerID? = slots.isEmpty ? nil : slots[jumpConsistentHash(key: hash, buckets: slots.count)]
                if before[jumpConsistentHash(key: hash, buckets: before.count)] != now { moved += 1 }
            }
            lastResize = KeyMovement(fromWorkers: before.count, toWorkers: slots.count, moved: moved, keys: knownKeys.count)
        }
        rehome()
    }

    /// Moves every key with waiting jobs whose owner changed to its new owner (O(keys with waiting jobs)),
    /// and recounts the keys each worker owns.
    private mutating func rehome() {
        let live = Set(slots)
        for worker in ready.keys where !live.contains(worker) { ready[worker] = nil }
        for worker in waitingPerWorker.keys where !live.contains(worker) { waitingPerWorker[worker] = nil }
        for (key, jobs) in pending {
            let owner = owner(of: key)
            guard home[key] != owner else { continue }
            if let previous = home[key], live.contains(previous) {
                waitingPerWorker[previous, default: 0] -= jobs.count
            }
            home[key] = nil
            if let owner { place(key, on: owner) }
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
        for id in slots {
            perWorker[id] = waitingPerWorker[id] ?? 0
            owned[id] = ownedKeyCounts[id] ?? 0
        }
        let homeless = pending.reduce(0) { $0 + (home[$1.key] == nil ? $1.value.count : 0) }
        var depths = QueueDepths(shared: unkeyed.count + homeless, perWorker: perWorker, ownedKeys: owned)
        depths.lastKeyMovement = lastResize
        return depths
    }
}
