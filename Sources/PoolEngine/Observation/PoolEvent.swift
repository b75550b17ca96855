/// Something notable that happened in a pool, with when.
public struct PoolEvent: Sendable, Equatable, Codable {
    /// What happened.
    public enum Kind: Sendable, Equatable, Codable {
        /// The pool grew; `reason` says why ("queue 240 > 4 workers x 50").
        case scaledUp(from: Int, to: Int, reason: String)
        /// The pool shrank, or workers were told to leave after their current job.
        case scaledDown(from: Int, to: Int, reason: String)
        /// A job used up its attempts and was dead-lettered.
        case deadLettered(DeadLetter)
        /// A setting was changed while running.
        case settingsChanged(String)
        /// The circuit breaker changed state.
        case breakerChanged(to: BreakerState, reason: String)
        /// Fault injection crashed a worker, with the job it was running.
        case workerCrashed(WorkerID, job: JobID?)
        /// A crashed worker's replacement started.
        case workerReplaced(old: WorkerID, new: WorkerID)
        /// Shutdown began: admission is closed.
        case shutdownStarted(ShutdownMode)
        /// A graceful shutdown's deadline passed with work left; what remained was cancelled.
        case shutdownDeadlineReached(remaining: Int)
        /// An immediate shutdown was asked for during a graceful drain: the rest is cancelled now.
        case shutdownEscalated(remaining: Int)
        /// Every worker has stopped and every job is accounted for.
        case shutdownCompleted(JobCounters)
        /// An event received from elsewhere (a pool watched over the network), as its text; the pool
        /// itself never reports this.
        case reported(String)
    }

    public let time: PoolInstant
    public let kind: Kind

    public init(time: PoolInstant, kind: Kind) {
        self.time = time
        self.kind = kind
    }
}

extension PoolEvent.Kind: CustomStringConvertible {
    public var description: String {
        switch self {
        case .scaledUp(let from, let to, let reason): "scale up \(from) -> \(to): \(reason)"
        case .scaledDown(let from, let to, let reason): "scale down \(from) -> \(to): \(reason)"
        case .deadLettered(let letter):
            "dead letter \(letter.id) after \(letter.attempts) attempt\(letter.attempts == 1 ? "" : "s"): \(letter.lastError)"
        case .settingsChanged(let change): "settings: \(change)"
        case .breakerChanged(let state, let reason): "breaker \(state): \(reason)"
        case .workerCrashed(let worker, let job?): "worker \(worker) crashed running job \(job)"
        case .workerCrashed(let worker, nil): "worker \(worker) crashed while idle"
        case .workerReplaced(let old, let new): "worker \(new) replaces \(old)"
        case .shutdownStarted(let mode): "shutdown started (\(mode))"
        case .shutdownDeadlineReached(let remaining): "shutdown deadline reached, cancelling \(remaining) jobs"
        case .shutdownEscalated(let remaining): "immediate shutdown during the drain, cancelling \(remaining) jobs"
        case .reported(let text): text
        case .shutdownCompleted(let counts):
            "shutdown complete: \(counts.completed) completed, \(counts.failed) failed, \(counts.rejected) rejected, \(counts.cancelled) cancelled"
        }
    }
}

/// How a pool is asked to stop.
public enum ShutdownMode: Sendable, Equatable, CustomStringConvertible, Codable {
    /// Refuse new jobs, finish the queued and running ones, and cancel what is left at the deadline.
    case graceful(deadline: Duration)
    /// Refuse new jobs, cancel the running ones and end the queued ones as cancelled.
    case immediate

    public var description: String {
        switch self {
        case .graceful(let deadline): "graceful, deadline \(formatted(deadline))"
        case .immediate: "immediate"
        }
    }
}

/// What a shutdown did, with every count.
public struct ShutdownReport: Sendable, Equatable, Codable {
    public let mode: ShutdownMode
    /// Final counts; ``JobCounters/isBalanced`` holds.
    public let counters: JobCounters
    /// Whether a graceful shutdown ran out of time and cancelled work.
    public let deadlineReached: Bool
    /// Jobs that were waiting in the queue (or for a retry) and were cancelled.
    public let cancelledWhileQueued: Int
    /// Jobs that were running and ended cancelled.
    public let cancelledWhileRunning: Int
    /// How long the shutdown took.
    public let duration: Duration
}
