import DequeModule

/// How a push strategy picks the worker whose queue receives a new job.
public enum DispatchRule: String, Sendable, CaseIterable, Codable {
    /// Each worker in turn.
    case roundRobin = "round-robin"
    /// The worker with the shortest queue (ties: the first).
    case leastLoaded = "least-loaded"
}

/// A queue per worker, filled by a dispatcher (push), with optional work stealing.
///
/// Without stealing a worker runs only what was pushed to it, so one slow job holds up everything queued
/// behind it while other workers idle. With stealing, a worker whose own queue is empty takes the newer
/// half of the busiest queue (as Go's scheduler does), from the end opposite to the owner, so owner and
/// thief rarely want the same job and the owner keeps its oldest work in order; the stolen jobs move to the
/// thief's own queue, so depths stay exact for the dashboard.
///
/// With stealing, a worker may take runs of jobs ahead from its own queue (see
/// ``PoolConfiguration/takeAhead``); what it could not start goes back to the front of the shared queue,
/// which every worker serves before its own. Without stealing it may not: a worker runs only what was
/// pushed to it, and a job taken ahead could be handed to another.
public struct PerWorkerQueues: QueueStrategy {
    private var queues: [WorkerID: Deque<QueuedJob>] = [:]
    /// Workers in dispatch order.
    private var order: [WorkerID] = []
    /// Jobs that arrived while there was no worker, and jobs taken ahead and put back: older than the
    /// workers' own, so taken first.
    private var unassigned = Deque<QueuedJob>()
    private var nextIndex = 0
    private(set) public var count = 0
    public let rule: DispatchRule
    public let stealing: Bool

    public init(rule: DispatchRule, stealing: Bool) {
        self.rule = rule
        self.stealing = stealing
    }

    public mutating func enqueue(_ job: consuming QueuedJob) -> DispatchTarget {
        count += 1
        guard let target = chooseWorker() else {
            unassigned.append(job)
            return .anyWorker
        }
        queues[target, default: []].append(job)
        return stealing ? .preferring(target) : .worker(target)
    }

    private mutating func chooseWorker() -> WorkerID? {
        guard !order.isEmpty else { return nil }
        switch rule {
        case .roundRobin:
            nextIndex %= order.count
            defer { nextIndex += 1 }
            return order[nextIndex]
        case .leastLoaded:
            return order.min { (queues[$0]?.count ?? 0) < (queues[$1]?.count ?? 0) }
        }
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        if let job = takeAhead(for: worker) { return job }
        guard stealing, let victim = busiestQueue(excluding: worker), var victimQueue = queues.removeValue(forKey: victim)
        else { return nil }
        // The newer half (rounded up) moves to the thief's queue, in order; the thief runs the oldest of it
        // now and the rest from its own queue, so a dry worker comes back for more once per half, not per job.
        let moving = (victimQueue.count + 1) / 2
        var stolen = Deque(victimQueue[(victimQueue.count - moving)...])
        victimQueue.removeLast(moving)
        queues[victim] = victimQueue
        guard let job = stolen.popFirst() else { return nil }
        queues[worker, default: []].append(contentsOf: stolen)
        count -= 1
        return job
    }

    public var allowsTakingAhead: Bool { stealing }

    /// The shared queue's next job, else the worker's own next one; never another's.
    public mutating func takeAhead(for worker: WorkerID) -> QueuedJob? {
        guard let job = unassigned.popFirst() ?? queues[worker]?.popFirst() else { return nil }
        count -= 1
        return job
    }

    public mutating func putBack(_ taken: [QueuedJob]) -> [DispatchTarget] {
        for job in taken.reversed() { unassigned.prepend(job) }
        count += taken.count
        return taken.map { _ in .anyWorker }
    }

    private func busiestQueue(excluding worker: WorkerID) -> WorkerID? {
        var best: (id: WorkerID, depth: Int)?
        for (id, queue) in queues where id != worker && queue.count > (best?.depth ?? 0) {
            best = (id, queue.count)
        }
        return best?.id
    }

    public mutating func evict() -> QueuedJob? {
        // The oldest job is at the front of some queue; without timestamps per queue, take the front of the
        // deepest queue, which holds the longest wait in all but contrived cases.
        if let job = unassigned.popFirst() {
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
        var all = Array(unassigned)
        for id in order { all.append(contentsOf: queues[id] ?? []) }
        for (id, queue) in queues where !order.contains(id) { all.append(contentsOf: queue) }
        queues.removeAll()
        unassigned.removeAll()
        count = 0
        return all
    }

    /// Keeps the queues of the workers that stay; the jobs of departed workers are dispatched again (to the
    /// shared queue while there is no worker).
    public mutating func workersChanged(to workers: [WorkerID]) {
        let staying = Set(workers)
        var orphans = Deque<QueuedJob>()
        for (id, queue) in queues where !staying.contains(id) {
            orphans.append(contentsOf: queue)
            queues[id] = nil
        }
        order = workers
        // The shared queue stays as it is: it is served first by every worker, and moving it behind the
        // workers' own jobs would send the oldest jobs (put back by a crashed worker) to the back.
        count -= orphans.count
        for job in orphans { _ = enqueue(job) }
    }

    public func depths() -> QueueDepths {
        var perWorker: [WorkerID: Int] = [:]
        for id in order { perWorker[id] = queues[id]?.count ?? 0 }
        return QueueDepths(shared: unassigned.count, perWorker: perWorker)
    }
}
