/// Exact counts of what happened to the pool's jobs.
///
/// Every submission ends in exactly one of completed, failed, rejected or cancelled, so once no job is
/// waiting, running or due for retry, ``isBalanced`` holds: `submitted == completed + failed + rejected + cancelled`.
/// ``retried`` and ``timedOut`` count attempts, not jobs, and are not part of that sum.
public struct JobCounters: Sendable, Equatable, Codable {
    /// Submissions, accepted or not.
    public var submitted: Int = 0
    /// Jobs whose attempt returned normally.
    public var completed: Int = 0
    /// Jobs whose every allowed attempt failed (dead-lettered).
    public var failed: Int = 0
    /// Submissions refused at admission, and accepted jobs dropped to make room.
    public var rejected: Int = 0
    /// Jobs ended by shutdown.
    public var cancelled: Int = 0
    /// Attempts that failed and were tried again.
    public var retried: Int = 0
    /// Attempts cancelled for running past their timeout.
    public var timedOut: Int = 0

    public init() {}

    /// Jobs that have reached their terminal state.
    public var finished: Int { completed + failed + rejected + cancelled }

    /// Jobs accepted but not yet finished: waiting, running or due for retry.
    public var unfinished: Int { submitted - finished }

    /// Whether every submission is accounted for by exactly one terminal state.
    public var isBalanced: Bool { submitted == finished }

    /// Every count with its name in documents and metrics (`timed_out`, not `timedOut`): the one list that
    /// exporters, documents and claims walk, so a count added here reaches all of them.
    public static var fields: [(name: String, value: WritableKeyPath<JobCounters, Int>)] {
        [
            ("submitted", \.submitted), ("completed", \.completed), ("failed", \.failed), ("rejected", \.rejected),
            ("cancelled", \.cancelled), ("retried", \.retried), ("timed_out", \.timedOut),
        ]
    }

    /// Each count the larger of the two: counts only grow, so this is the later of two readings.
    public func fieldwiseMax(_ other: JobCounters) -> JobCounters {
        var result = self
        for field in Self.fields { result[keyPath: field.value] = Swift.max(self[keyPath: field.value], other[keyPath: field.value]) }
        return result
    }

    enum CodingKeys: String, CodingKey {
        case submitted, completed, failed, rejected, cancelled, retried
        case timedOut = "timed_out"
    }
}
