import DequeModule

/// One queue that every worker takes from: first-in first-out (the classic thread-pool queue), or
/// last-in first-out (the newest job runs first, which keeps caches warm and answers fresh requests fast,
/// at the price of starving old ones under overload).
public struct SharedQueue: QueueStrategy {
    /// Which end workers take from.
    public enum Order: Sendable {
        case fifo
        case lifo
    }

    private var jobs = SegmentedDeque<QueuedJob>()
    public let order: Order

    public init(order: Order = .fifo) {
        self.order = order
    }

    public var count: Int { jobs.count }

    public mutating func enqueue(_ job: consuming QueuedJob) -> DispatchTarget {
        jobs.append(job)
        return .anyWorker
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        order == .fifo ? jobs.popFirst() : jobs.popLast()
    }

    /// The oldest job, whichever end workers take from.
    public mutating func evict() -> QueuedJob? { jobs.popFirst() }

    public mutating func removeAll() -> [QueuedJob] {
        jobs.removeAll()
    }

    public func depths() -> QueueDepths { QueueDepths(shared: jobs.count) }

    public var allowsTakingAhead: Bool { true }

    public mutating func putBack(_ taken: [QueuedJob]) -> [DispatchTarget] {
        switch order {
        // Back among the oldest, in job order: other jobs put back (or stolen) may already be there.
        case .fifo: jobs.mergeAtFront(taken.sorted { $0.id < $1.id }) { $0.id < $1.id }
        case .lifo: jobs.appendReversed(taken)
        }
        return taken.map { _ in .anyWorker }
    }
}
