import DequeModule

/// One first-in first-out queue that every worker takes from: the classic thread-pool queue.
public struct SharedFIFOQueue: QueueStrategy {
    private var jobs = Deque<QueuedJob>()

    public init() {}

    public var count: Int { jobs.count }

    public mutating func enqueue(_ job: QueuedJob) -> DispatchTarget {
        jobs.append(job)
        return .anyWorker
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? { jobs.popFirst() }

    public mutating func evict() -> QueuedJob? { jobs.popFirst() }

    public mutating func removeAll() -> [QueuedJob] {
        defer { jobs.removeAll() }
        return Array(jobs)
    }

    public func depths() -> QueueDepths { QueueDepths(shared: jobs.count) }
}

/// One last-in first-out stack that every worker takes from: the newest job runs first, which keeps
/// caches warm and answers fresh requests fast, at the price of starving old ones under overload.
public struct SharedLIFOQueue: QueueStrategy {
    private var jobs = Deque<QueuedJob>()

    public init() {}

    public var count: Int { jobs.count }

    public mutating func enqueue(_ job: QueuedJob) -> DispatchTarget {
        jobs.append(job)
        return .anyWorker
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? { jobs.popLast() }

    /// The oldest job, at the bottom of the stack.
    public mutating func evict() -> QueuedJob? { jobs.popFirst() }

    public mutating func removeAll() -> [QueuedJob] {
        defer { jobs.removeAll() }
        return Array(jobs)
    }

    public func depths() -> QueueDepths { QueueDepths(shared: jobs.count) }
}
