public import Foundation
public import PoolEngine

/// How a ``ClusterNode`` runs.
public struct NodeConfiguration: Sendable {
    /// The node's name in status and events; by default `host-pid`.
    public var name: String
    /// Jobs run at once (the local pool's fixed size).
    public var workers: Int = 8
    /// Whether the node takes keyed jobs: each key is owned by one live keyed node (jump consistent hash over
    /// the keyed nodes in joining order). Unkeyed nodes take only jobs without a key.
    public var keyed: Bool = false
    /// A node whose last heartbeat is older than this is declared dead, and its running jobs are made
    /// available again (the attempt counted). Longer than any pause a live node may have (GC, a slow
    /// database); shorter than you are willing to wait for a dead node's jobs.
    public var rescueHorizon: Duration = .seconds(10)
    /// How often the node heartbeats (and tries to be the rescuer).
    public var heartbeatInterval: Duration = .seconds(1)
    /// How often the node looks for work without being notified (the LISTEN/NOTIFY fallback), and promotes
    /// due scheduled jobs.
    public var pollInterval: Duration = .milliseconds(500)
    /// The most jobs one claim takes.
    public var maxClaimBatch: Int = 2_000
    /// Jobs claimed ahead of free workers: about what the node finishes in this much time, at least
    /// `workers`, at most ``maxClaimBatch``. Claimed jobs that never start are handed back on a graceful stop.
    public var claimAhead: Duration = .milliseconds(100)
    /// Outcomes written per statement at most, and how long an outcome may wait for others to join it.
    public var completerBatch: Int = 2_000
    public var completerDelay: Duration = .milliseconds(5)
    /// Waits between attempts of a failed job (the attempts themselves are per job, set at enqueue).
    public var retryBackoff = RetryPolicy(
        maxAttempts: 1, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(300), jitter: 0.2)
    /// How long a graceful stop lets running jobs finish before interrupting them.
    public var drainDeadline: Duration = .seconds(10)

    public init(name: String? = nil) {
        self.name = name ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Checks the values fit together; the error names the field.
    public func validate() throws(ClusterError) {
        if workers < 1 { throw .invalidArgument("workers must be at least 1, got \(workers)") }
        if name.isEmpty { throw .invalidArgument("a node's name must not be empty") }
        if heartbeatInterval <= .zero { throw .invalidArgument("the heartbeat interval must be positive, got \(heartbeatInterval)") }
        if pollInterval <= .zero { throw .invalidArgument("the poll interval must be positive, got \(pollInterval)") }
        if completerBatch < 1 { throw .invalidArgument("completerBatch must be at least 1, got \(completerBatch)") }
        if rescueHorizon <= heartbeatInterval * 2 {
            throw .invalidArgument(
                "the rescue horizon (\(rescueHorizon)) must be more than twice the heartbeat interval (\(heartbeatInterval))")
        }
        if maxClaimBatch < 1 { throw .invalidArgument("maxClaimBatch must be at least 1") }
    }
}

/// A node's own view of itself (what the database may not know, such as an outage).
public struct NodeStatus: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// alive, draining, stopped.
    public var state: String
    /// Claimed and not finished (waiting in the local pool or running).
    public var claimed: Int
    public var running: Int
    /// Outcomes written, by result (stale ones included: ``staleCompletions`` says how many changed nothing).
    public var completed: Int
    public var failed: Int
    public var staleCompletions: Int
    /// Outcomes waiting to be written.
    public var pendingOutcomes: Int
    /// Set while the database cannot be reached.
    public var databaseUnreachableSince: Date?
    public var lastDatabaseError: String?
    /// Key slots this node owns (keyed nodes).
    public var ownedSlots: Int

    /// "database unreachable since HH:MM:SS" during an outage, else the state.
    public var description: String {
        guard let since = databaseUnreachableSince else { return state }
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return "database unreachable since \(formatter.string(from: since))"
    }
}

/// What a node's stop did.
public struct NodeStopReport: Sendable, Equatable {
    /// Claimed jobs given back unstarted (no attempt charged).
    public var handedBack: Int
    /// Jobs still running at the drain deadline, interrupted (their attempt counts as failed).
    public var interrupted: Int
    /// Outcomes that could not be written before giving up (their jobs will be rescued).
    public var unwrittenOutcomes: Int
}
