import Foundation

/// A node's bookkeeping, behind the node's one lock: claimed jobs, which of them run, outcomes waiting to be
/// written, and counts. A value type with no I/O, so each rule is plain code.
struct NodeState {
    let name: String
    let workers: Int
    var nodeID: Int64 = -1
    /// Claimed and not finished, by id.
    var claimed: [Int64: ClaimedJob] = [:]
    /// Started and not finished.
    var running: Set<Int64> = []
    /// Handed back before starting: the local pool skips them.
    var handedBack: Set<Int64> = []
    var outcomes: [AttemptOutcome] = []
    /// Outcomes taken by the completer and not yet confirmed.
    var writing = 0
    var stopping = false
    var interrupting = false
    var completerStopped = false
    var completed = 0, failed = 0, staleCompletions = 0
    var unreachableSince: Date?
    /// Since when the database has answered without interruption.
    var connectedSince = Date()
    var lastDatabaseError: String?
    var liveKeyedNodes: [Int64] = []
    var ownedSlots: [Int32] = []
    /// Completions per second, smoothed, to size claims.
    var rate = 0.0
    private var rateWindowStart = Date()
    private var rateWindowCount = 0

    init(name: String, workers: Int) {
        self.name = name
        self.workers = workers
    }

    /// How many more jobs to claim now: room for about `claimAhead` of work beyond the workers, claimed only
    /// once at least a quarter of it is free (so claims come in batches, not one per finished job).
    func claimCapacity(_ configuration: NodeConfiguration) -> Int {
        let limit = claimLimit(configuration)
        let free = limit - claimed.count
        return free >= max(1, limit / 4) ? min(free, configuration.maxClaimBatch) : 0
    }

    func claimLimit(_ configuration: NodeConfiguration) -> Int {
        let ahead = Int(rate * configuration.claimAhead.seconds)
        return workers + min(max(ahead, workers), configuration.maxClaimBatch)
    }

    /// Seconds the database has answered without interruption (0 during an outage).
    func connectedFor(now: Date = Date()) -> Double {
        unreachableSince == nil ? now.timeIntervalSince(connectedSince) : 0
    }

    /// Marks a job started; false when it was handed back (the attempt must not run).
    mutating func begin(_ id: Int64) -> Bool {
        guard claimed[id] != nil, !handedBack.contains(id) else { return false }
        running.insert(id)
        return true
    }

    /// Records an attempt's end; says whether to wake the claimer (enough room) and the completer.
    mutating func finish(_ id: Int64, outcome: AttemptOutcome, configuration: NodeConfiguration) -> (Bool, Bool) {
        let before = claimCapacity(configuration)
        claimed[id] = nil
        running.remove(id)
        outcomes.append(outcome)
        rateWindowCount += 1
        let elapsed = Date().timeIntervalSince(rateWindowStart)
        if elapsed >= 0.25 {
            let sample = Double(rateWindowCount) / elapsed
            rate = rate == 0 ? sample : rate * 0.7 + sample * 0.3
            rateWindowStart = Date()
            rateWindowCount = 0
        }
        let wakeClaimer = before == 0 && claimCapacity(configuration) > 0 && !stopping
        return (wakeClaimer, outcomes.count == 1 || outcomes.count >= configuration.completerBatch)
    }

    mutating func takeOutcomes(_ limit: Int) -> [AttemptOutcome] {
        let batch = Array(outcomes.prefix(limit))
        outcomes.removeFirst(batch.count)
        writing += batch.count
        return batch
    }

    mutating func putBackOutcomes(_ batch: [AttemptOutcome]) {
        outcomes.insert(contentsOf: batch, at: 0)
        writing -= batch.count
    }

    mutating func recordWritten(_ batch: [AttemptOutcome], stale: Int) {
        writing -= batch.count
        staleCompletions += stale
        for outcome in batch {
            if outcome.result == .completed { completed += 1 } else { failed += 1 }
        }
    }

    /// Claimed jobs that have not started, now handed back (the pool will skip them).
    mutating func takeUnstarted() -> [ClaimedJob] {
        let unstarted = claimed.values.filter { !running.contains($0.id) }.sorted { $0.id < $1.id }
        for job in unstarted {
            handedBack.insert(job.id)
            claimed[job.id] = nil
        }
        return unstarted
    }

    var status: NodeStatus {
        NodeStatus(
            id: nodeID, name: name, state: completerStopped ? "stopped" : stopping ? "draining" : "alive",
            claimed: claimed.count, running: running.count, completed: completed, failed: failed,
            staleCompletions: staleCompletions, pendingOutcomes: outcomes.count + writing,
            databaseUnreachableSince: unreachableSince, lastDatabaseError: lastDatabaseError,
            ownedSlots: ownedSlots.count)
    }
}
