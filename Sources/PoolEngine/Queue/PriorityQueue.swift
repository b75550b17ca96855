import HeapModule

/// Runs the most urgent job first: higher ``Job/priority`` first, and among equals the one that waited longest.
///
/// With aging, a job of priority `p` counts as if it had arrived `p × agingInterval` earlier than it did,
/// so waiting raises its effective urgency. That bounds starvation: **a job of priority `p` is never
/// overtaken by a job of priority `q > p` that arrived more than `(q − p) × agingInterval` after it.**
/// Without aging the order is strict, and a steady stream of urgent jobs can starve the rest forever.
public struct AgingPriorityQueue: QueueStrategy {
    private struct Entry: Comparable {
        /// Effective arrival in nanoseconds: smaller runs first.
        let rank: Int64
        let priority: Int
        let sequence: UInt64
        let job: QueuedJob

        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.sequence == rhs.sequence }

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            if lhs.rank != rhs.rank { return lhs.rank < rhs.rank }
            if lhs.priority != rhs.priority { return lhs.priority > rhs.priority }
            return lhs.sequence < rhs.sequence
        }
    }

    private var heap = Heap<Entry>()
    private var sequence: UInt64 = 0
    /// `nil` for strict priority.
    public let agingInterval: Duration?

    public init(agingInterval: Duration?) {
        self.agingInterval = agingInterval
    }

    public var count: Int { heap.count }

    public mutating func enqueue(_ job: consuming QueuedJob) -> DispatchTarget {
        sequence += 1
        let rank: Int64
        if let agingInterval {
            let headStart = Int64(job.job.priority).multipliedReportingOverflow(by: agingInterval.nanoseconds)
            rank = headStart.overflow ? (job.job.priority > 0 ? .min : .max) : job.enqueuedAt.nanoseconds &- headStart.partialValue
        } else {
            rank = Int64(-job.job.priority)
        }
        heap.insert(Entry(rank: rank, priority: job.job.priority, sequence: sequence, job: job))
        return .anyWorker
    }

    public mutating func dequeue(for worker: WorkerID) -> QueuedJob? { heap.popMin()?.job }

    /// The least urgent job.
    public mutating func evict() -> QueuedJob? { heap.popMax()?.job }

    public mutating func removeAll() -> [QueuedJob] {
        defer { heap = Heap() }
        return heap.unordered.map(\.job)
    }

    public func depths() -> QueueDepths { QueueDepths(shared: heap.count) }
}
