import DequeModule

/// Dedicated workers: a job's key picks its worker by jump consistent hash, so each key is served by one
/// worker at a time and a key's jobs run in submission order. Jobs without a key go to a shared queue that
/// any worker takes from when its own is empty.
///
/// Re-homing: workers sit in numbered slots, and a key's slot is `jumpConsistentHash(key, slots)`. A new
/// worker takes a new last slot, so growing moves only the keys that now hash to it; the strategy asks the
/// pool to retire its newest workers first, so shrinking moves only the keys of the removed slots; a crashed
/// worker's replacement takes over its slot, so replacing moves no key. All waiting jobs of a key always sit
/// in its owner's queue, in order. While a key's job is still running on its old owner, its new owner skips
/// that key's waiting jobs, so two jobs of one key never run at once; the old owner's finish wakes it.
public struct KeyedQueues: QueueStrategy {
    private var slots: [WorkerID] = []
    private var queues: [WorkerID: Deque<QueuedJob>] = [:]
    private var unkeyed = Deque<QueuedJob>()
    /// Keyed jobs that arrived (or were left) while there was no worker, in order.
    private var homeless = Deque<QueuedJob>()
    /// Keys with a job running, and where.
    private var running: [String: WorkerID] = [:]
    /// Every key seen (up to ``trackedKeyLimit``), with its owner, for the snapshot's key counts.
    private var knownKeys: [String: WorkerID] = [:]
    private var ownedKeyCounts: [WorkerID: Int] = [:]
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
        guard let target = owner(of: key) else {
            homeless.append(job)
            return .anyWorker
        }
        track(key, owner: target)
        queues[target, default: []].append(job)
        return .worker(target)
    }

    private mutating func track(_ key: String, owner: WorkerID) {
        guard knownKeys[key] == nil, knownKeys.count < Self.trackedKeyLimit else { return }
        knownKeys[key] = owner
        ownedKeyCounts[owner, default: 0] += 1
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        if let queue = queues[worker], !queue.isEmpty {
            // Usually the first job; only a key still running on its previous owner is skipped.
            if let index = queue.firstIndex(where: { job in
                guard let key = job.job.key, let runner = running[key] else { return true }
                return runner == worker
            }) {
                guard let job = queues[worker]?.remove(at: index) else { return nil }
                count -= 1
                if let key = job.job.key { running[key] = worker }
                return job
            }
        }
        guard let job = unkeyed.popFirst() else { return nil }
        count -= 1
        return job
    }

    public mutating func jobFinished(_ job: QueuedJob, by worker: WorkerID) -> DispatchTarget? {
        guard let key = job.job.key, running[key] == worker else { return nil }
        running[key] = nil
        guard let owner = owner(of: key), owner != worker,
            queues[owner]?.contains(where: { $0.job.key == key }) == true
        else { return nil }
        return .worker(owner)
    }

    public mutating func evict() -> QueuedJob? {
        if let job = unkeyed.popFirst() ?? homeless.popFirst() {
            count -= 1
            return job
        }
        guard let deepest = queues.max(by: { $0.value.count < $1.value.count })?.key,
            let job = queues[deepest]?.popFirst()
        else { return nil }
        count -= 1
        return job
    }

    public mutating func removeAll() -> [QueuedJob] {
        var all = Array(unkeyed) + Array(homeless)
        for queue in queues.values { all.append(contentsOf: queue) }
        queues.removeAll()
        unkeyed.removeAll()
        homeless.removeAll()
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
        slots = newSlots.compactMap { $0 } + joining
        rehome()
    }

    /// Moves every waiting keyed job whose key changed owner to the new owner's queue, keeping each key's
    /// order; recounts the keys each worker owns.
    private mutating func rehome() {
        var moved: [WorkerID: Deque<QueuedJob>] = [:]
        for (id, queue) in queues {
            var kept = Deque<QueuedJob>()
            for job in queue {
                guard let key = job.job.key else {
                    kept.append(job)
                    continue
                }
                if let owner = owner(of: key) {
                    if owner == id { kept.append(job) } else { moved[owner, default: []].append(job) }
                } else {
                    homeless.append(job)
                }
            }
            queues[id] = kept
        }
        for (owner, jobs) in moved { queues[owner, default: []].append(contentsOf: jobs) }
        if !slots.isEmpty {
            let waiting = homeless
            homeless.removeAll()
            for job in waiting {
                if let key = job.job.key, let owner = owner(of: key) { queues[owner, default: []].append(job) }
            }
        }
        let live = Set(slots)
        for (id, queue) in queues where !live.contains(id) {
            precondition(queue.isEmpty, "a departed worker \(id) still holds \(queue.count) keyed jobs")
            queues[id] = nil
        }
        ownedKeyCounts = [:]
        for key in knownKeys.keys {
            guard let owner = owner(of: key) else { continue }
            knownKeys[key] = owner
            ownedKeyCounts[owner, default: 0] += 1
        }
    }

    public func depths() -> QueueDepths {
        var perWorker: [WorkerID: Int] = [:]
        for id in slots { perWorker[id] = queues[id]?.count ?? 0 }
        var owned: [WorkerID: Int] = [:]
        for id in slots { owned[id] = ownedKeyCounts[id] ?? 0 }
        return QueueDepths(shared: unkeyed.count + homeless.count, perWorker: perWorker, ownedKeys: owned)
    }
}
