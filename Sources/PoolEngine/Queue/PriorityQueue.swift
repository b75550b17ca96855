import HeapModule

/// Runs the most urgent job first: higher ``Job/priority`` first, and among equals the one that waited longest.
///
/// With aging, a job of priority `p` counts as if it had arrived `p × agingInterval` earlier than it did,
/// so waiting raises its effective urgency. That bounds starvation: **a job of priority `p` is never
/// overtaken by a job of priority `q > p` that arrived more than `(q − p) × agingInterval` after it.**
/// Without aging the order is strict, and a steady stream of urgent jobs can starve the rest forever.
public struct AgingPriorityQueue: QueueStrategy {
    private struct Entry: Comparable {
        let urgency: Urgency
        let job: QueuedJob

        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.urgency == rhs.urgency }
        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.urgency < rhs.urgency }
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
        let urgency = Urgency(
            priority: job.job.priority, enqueuedAt: job.enqueuedAt.nanoseconds, sequence: sequence, agingInterval: agingInterval)
        heap.insert(Entry(urgency: urgency, job: job))
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

/// Where a job stands in a priority queue with aging: smaller runs first. Shared by ``AgingPriorityQueue``
/// and the typed pool's priority queue, so both keep the same promise.
@usableFromInline
struct Urgency: Comparable, Sendable {
    /// Effective arrival in nanoseconds: a job of priority `p` counts as if it arrived `p × agingInterval`
    /// earlier (without aging, just `-p`).
    @usableFromInline let rank: Int64
    @usableFromInline let priority: Int
    /// Arrival order, to break ties first-in first-out.
    @usableFromInline let sequence: UInt64

    @usableFromInline
    init(priority: Int, enqueuedAt: Int64, sequence: UInt64, agingInterval: Duration?) {
        // Saturating: a head start past Int64's range ranks first (or last), never wrapped round.
        if let agingInterval {
            let headStart = Int64(priority).multipliedReportingOverflow(by: agingInterval.nanoseconds)
            let ranked = enqueuedAt.subtractingReportingOverflow(headStart.partialValue)
            rank = headStart.overflow || ranked.overflow ? (priority > 0 ? .min : .max) : ranked.partialValue
        } else {
            rank = priority == .min ? .max : -Int64(priority)
        }
        self.priority = priority
        self.sequence = sequence
    }

    @usableFromInline
    static func < (lhs: Urgency, rhs: Urgency) -> Bool {
        if lhs.rank != rhs.rank { return lhs.rank < rhs.rank }
        if lhs.priority != rhs.priority { return lhs.priority > rhs.priority }
        return lhs.sequence < rhs.sequence
    }
}
