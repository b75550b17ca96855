import Foundation
public import Logging
import PoolEngine
import Synchronization

/// One process's share of the cluster: it claims jobs from the shared queue and runs them on a local
/// ``WorkerPool`` with the registered handlers.
///
/// It claims in batches (`FOR UPDATE SKIP LOCKED`), never more than it can start soon; it is woken by
/// `LISTEN/NOTIFY` on enqueue with a poll as fallback; it writes outcomes through a batched completer,
/// each fenced by its attempt's token; it heartbeats, and takes its turn as the rescuer of dead nodes.
/// When the database goes away it keeps retrying with backoff and resumes when it is back; outcomes wait
/// in memory meanwhile. ``stop(deadline:)`` finishes running jobs up to a deadline and hands back the
/// claimed jobs it has not started, with no attempt charged.
public final class ClusterNode: Sendable {
    public let configuration: NodeConfiguration
    let database: ClusterDatabase
    let handlers: ClusterJobHandlers
    let pool: WorkerPool
    let logger: Logger
    let state: Mutex<NodeState>
    let claimWake = WakeSignal()
    let completerWake = WakeSignal()
    private let tasks = Mutex<[(name: String, task: Task<Void, Never>)]>([])
    private let claimTask = Mutex<Task<Void, Never>?>(nil)

    /// Creates a node; ``start()`` registers it and starts claiming.
    public init(
        database: ClusterDatabase, configuration: NodeConfiguration, handlers: ClusterJobHandlers,
        logger: Logger? = nil
    ) throws(ClusterError) {
        try configuration.validate()
        self.configuration = configuration
        self.database = database
        self.handlers = handlers
        self.logger = logger ?? database.logger
        var poolConfiguration = PoolConfiguration()
        poolConfiguration.name = "node-\(configuration.name)"
        poolConfiguration.minWorkers = configuration.workers
        poolConfiguration.maxWorkers = configuration.workers
        poolConfiguration.queueCapacity = nil
        poolConfiguration.takeAhead = 0
        // The node reports for its pool (hand-backs, interruptions); the pool's own shutdown lines would
        // only confuse (its "deadline" is not the node's drain deadline).
        poolConfiguration.logger = Logger(label: "poolscope.node.pool", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            pool = try WorkerPool(configuration: poolConfiguration)
        } catch {
            throw .invalidArgument("node pool: \(error)")
        }
        state = Mutex(NodeState(name: configuration.name, workers: configuration.workers))
    }

    /// Registers the node and starts its loops: claiming, listening, heartbeat and rescue, completing.
    public func start() async throws(ClusterError) {
        let id = try await register()
        state.withLock { $0.nodeID = id }
        if configuration.keyed {
            let live = try await database.liveKeyedNodes()
            updateOwnership(live)
        }
        logger.info(
            "node \(configuration.name) joined as #\(id) with \(configuration.workers) workers\(configuration.keyed ? ", keyed" : "")")
        let loops = [
            (name: "listener", task: Task { await self.listenLoop() }),
            (name: "heartbeat", task: Task { await self.heartbeatLoop() }),
            (name: "completer", task: Task { await self.completerLoop() }),
        ]
        tasks.withLock { $0 = loops }
        claimTask.withLock { $0 = Task { await self.claimLoop() } }
    }

    /// Adds this process to the nodes table as a new node (at start, and when rejoining after being
    /// declared dead); returns its id.
    private func register() async throws(ClusterError) -> Int64 {
        try await database.registerNode(
            name: configuration.name, host: ProcessInfo.processInfo.hostName,
            pid: Int(ProcessInfo.processInfo.processIdentifier), workers: configuration.workers,
            keyed: configuration.keyed)
    }

    /// The node's own view of itself.
    public var status: NodeStatus { state.withLock { $0.status } }

    /// The id the cluster knows this node by (after ``start()``).
    public var nodeID: Int64 { state.withLock { $0.nodeID } }

    // MARK: Claiming

    private func claimLoop() async {
        var lastPromotion = ContinuousClock.now - .seconds(60)
        var failures = 0
        while !state.withLock({ $0.stopping }) {
            if ContinuousClock.now - lastPromotion >= configuration.pollInterval {
                lastPromotion = .now
                do {
                    _ = try await database.promoteScheduled()
                } catch {
                    await databaseTrouble(error, failures: &failures)
                    continue
                }
            }
            let (capacity, node, slots) = state.withLock { state in
                (state.claimCapacity(configuration), state.nodeID, state.ownedSlots)
            }
            guard capacity > 0 else {
                await claimWake.wait(upTo: configuration.pollInterval)
                continue
            }
            do {
                // Each claim's jobs are dispatched as soon as its statement commits, so a failure of the next
                // statement never strands them.
                var claimedCount = 0
                if configuration.keyed {
                    let keyed = try await database.claimKeyed(node: node, slots: slots, limit: capacity)
                    dispatch(keyed)
                    claimedCount = keyed.count
                }
                if claimedCount < capacity {
                    let unkeyed = try await database.claimUnkeyed(node: node, limit: capacity - claimedCount)
                    dispatch(unkeyed)
                    claimedCount += unkeyed.count
                }
                databaseReachable(&failures)
                if claimedCount == capacity { continue }
            } catch let error where error.isUniqueViolation {
                // Two nodes raced for the head of one key; the index kept them apart. Try again shortly.
                try? await Task.sleep(for: .milliseconds(20))
                continue
            } catch {
                await databaseTrouble(error, failures: &failures)
                continue
            }
            await claimWake.wait(upTo: configuration.pollInterval)
        }
    }

    private func dispatch(_ jobs: [ClaimedJob]) {
        guard !jobs.isEmpty else { return }
        let stopping = state.withLock { state in
            for job in jobs { state.claimed[job.id] = job }
            return state.stopping
        }
        if stopping { return }  // the stop hands them back
        for job in jobs {
            let admission = pool.trySubmit(Job(timeout: job.timeout) { [self] in await runAttempt(job) })
            if !admission.isAccepted {
                logger.debug("job \(job.id) not admitted locally (\(admission)); it is handed back on stop")
            }
        }
    }

    /// Runs one attempt unless the job was handed back first, and queues its outcome.
    private func runAttempt(_ job: ClaimedJob) async {
        guard state.withLock({ $0.begin(job.id) }) else { return }
        let started = Date()
        var result = AttemptOutcome.Result.completed
        var message = ""
        do {
            guard let handler = handlers.handler(for: job.kind) else {
                throw ClusterJobError.unknownKind(job.kind, node: configuration.name, known: handlers.kinds)
            }
            let context = ClusterJobContext(
                id: job.id, kind: job.kind, key: job.key, attempt: job.attempt, maxAttempts: job.maxAttempts,
                node: configuration.name)
            try await handler(job.payload, context)
        } catch {
            if Task.isCancelled {
                let interrupted = state.withLock { $0.interrupting }
                result = interrupted ? .interrupted : .timedOut
                message =
                    interrupted
                    ? "interrupted: node \(configuration.name) stopped before the attempt finished"
                    : "timed out after \(job.timeout.map { "\($0)" } ?? "its timeout")"
            } else {
                result = .failed
                message = String(describing: error)
                if message.count > 2_000 { message = String(message.prefix(2_000)) + "…" }
            }
        }
        let backoff =
            result == .completed
            ? 0 : configuration.retryBackoff.backoff(afterAttempt: job.attempt, unit: Double.random(in: 0..<1)).seconds
        let outcome = AttemptOutcome(
            id: job.id, token: job.token, result: result, error: message, backoff: backoff,
            ranFrom: started.timeIntervalSince1970, ranUntil: Date().timeIntervalSince1970)
        let (wakeClaimer, wakeCompleter) = state.withLock { state in
            state.finish(job.id, outcome: outcome, configuration: configuration)
        }
        if wakeCompleter { completerWake.signal() }
        if wakeClaimer { claimWake.signal() }
    }

    // MARK: Completing

    private func completerLoop() async {
        var failures = 0
        while true {
            let (batch, node, stopped) = state.withLock { state in
                (state.takeOutcomes(configuration.completerBatch), state.nodeID, state.completerStopped)
            }
            if batch.isEmpty {
                if stopped { return }
                await completerWake.wait(upTo: .milliseconds(200))
                // Let a few more outcomes join the batch.
                try? await Task.sleep(for: configuration.completerDelay)
                continue
            }
            do {
                let stale = try await database.complete(batch, node: node, nodeName: configuration.name)
                databaseReachable(&failures)
                state.withLock { $0.recordWritten(batch, stale: stale) }
                // A key's next job can be claimed only once this one's outcome is written.
                if configuration.keyed { claimWake.signal() }
                if stale > 0 {
                    logger.warning(
                        "\(stale) outcome(s) were stale: this node no longer owned those attempts (declared dead?); they changed nothing")
                }
            } catch {
                state.withLock { $0.putBackOutcomes(batch) }
                await databaseTrouble(error, failures: &failures)
            }
        }
    }

    // MARK: Heartbeat, ownership and rescue

    private func heartbeatLoop() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let (node, busy, draining) = state.withLock { ($0.nodeID, $0.running.count, $0.stopping) }
                let seen = try await database.heartbeat(node: node, busy: busy, draining: draining)
                if seen == "dead" && !draining {
                    // Our claims were rescued: jobs not started yet must not start here (they may already run
                    // elsewhere); attempts still running finish, and their outcomes are fenced off as stale.
                    let dropped = state.withLock { $0.takeUnstarted().count }
                    let id = try await register()
                    state.withLock { $0.nodeID = id }
                    logger.warning(
                        "node \(configuration.name) was declared dead by the cluster (its jobs were rescued; \(dropped) claimed job(s) will not start here); rejoined as #\(id)"
                    )
                }
                if configuration.keyed { updateOwnership(try await database.liveKeyedNodes()) }
                databaseReachable(&failures)
                // After an outage every node's heartbeat is old: rescue only once this node has itself been
                // connected for a whole horizon, so the others have had time to heartbeat again.
                if state.withLock({ $0.connectedFor() }) >= configuration.rescueHorizon.seconds {
                    let rescue = try await database.rescue(horizon: configuration.rescueHorizon)
                    if !rescue.deadNodes.isEmpty || rescue.rescuedJobs > 0 {
                        logger.warning(
                            "rescuer: declared dead: \(rescue.deadNodes.isEmpty ? "none" : rescue.deadNodes.joined(separator: ", ")); rescued \(rescue.rescuedJobs) job(s) from dead or stopped nodes"
                        )
                    }
                }
            } catch {
                await databaseTrouble(error, failures: &failures, sleep: false)
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }

    private func updateOwnership(_ live: [Int64]) {
        let changed = state.withLock { state -> Bool in
            guard state.liveKeyedNodes != live else { return false }
            state.liveKeyedNodes = live
            state.ownedSlots = KeyOwnership(nodes: live).slots(ownedBy: state.nodeID)
            return true
        }
        if changed {
            logger.info(
                "keys re-homed: \(live.count) live keyed node(s); this node owns \(status.ownedSlots) of \(ClusterProducer.keySlots) key slots"
            )
            claimWake.signal()
        }
    }

    // MARK: Wake-ups

    private func listenLoop() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: database.schema.channel) { notifications in
                        var reset = 0
                        self.databaseReachable(&reset)
                        // Something may have been enqueued while we were not listening.
                        self.claimWake.signal()
                        for try await _ in notifications { self.claimWake.signal() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                await databaseTrouble(error, failures: &failures)
                continue
            }
            failures = 0
        }
    }

    // MARK: Database trouble

    private func databaseReachable(_ failures: inout Int) {
        failures = 0
        let since = state.withLock { state -> Date? in
            defer { state.unreachableSince = nil }
            if state.unreachableSince != nil { state.connectedSince = Date() }
            return state.unreachableSince
        }
        if let since {
            logger.notice("database reachable again after \(String(format: "%.1f", Date().timeIntervalSince(since))) s")
        }
    }

    private func databaseTrouble(_ error: any Error, failures: inout Int, sleep: Bool = true) async {
        failures += 1
        let message = describeDatabaseError(error)
        let first = state.withLock { state -> Bool in
            state.lastDatabaseError = message
            guard state.unreachableSince == nil else { return false }
            state.unreachableSince = Date()
            return true
        }
        if first {
            logger.error(
                "database unreachable since \(status.description.replacingOccurrences(of: "database unreachable since ", with: "")) (\(database.url.host):\(database.url.port): \(message)); retrying"
            )
        }
        if sleep {
            let backoff = min(2.0, 0.05 * pow(2, Double(min(failures, 10))))
            try? await Task.sleep(for: .milliseconds(Int(backoff * 1000 * Double.random(in: 0.8...1.2))))
        }
    }

    // MARK: Stopping

    /// Stops gracefully: no more claims; claimed jobs not yet started are handed back (no attempt charged);
    /// running jobs may finish until `deadline` (default ``NodeConfiguration/drainDeadline``), then are
    /// interrupted (their attempt counts as failed); outcomes are written; the node is marked stopped.
    @discardableResult
    public func stop(deadline: Duration? = nil) async -> NodeStopReport {
        let deadline = ContinuousClock.now + (deadline ?? configuration.drainDeadline)
        state.withLock { $0.stopping = true }
        claimWake.signal()
        if let claimer = claimTask.withLock({ $0 }), !(await finished(claimer, within: .seconds(5))) {
            logger.warning("the claim loop did not end within 5 s of the stop (a database call hanging?); stopping without it")
        }
        let node = state.withLock { $0.nodeID }
        try? await database.setNodeState(node, "draining")

        // Hand back what has not started; the pool will skip those jobs.
        let unstarted = state.withLock { $0.takeUnstarted() }
        var handedBack = 0
        while !unstarted.isEmpty {
            do {
                handedBack = try await database.handBack(unstarted, node: node)
                break
            } catch {
                if ContinuousClock.now > deadline + .seconds(5) {
                    logger.error(
                        "could not hand back \(unstarted.count) claimed job(s): \(describeDatabaseError(error)); they will be rescued")
                    break
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }

        // Let running jobs finish until the deadline, then interrupt them.
        while state.withLock({ !$0.running.isEmpty }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let interrupted = state.withLock { state -> Int in
            state.interrupting = !state.running.isEmpty
            return state.running.count
        }
        _ = await pool.shutdown(interrupted > 0 ? .immediate : .graceful(deadline: .seconds(1)))

        // Write every outcome (retrying through an outage for a while), then stop the completer.
        completerWake.signal()
        while state.withLock({ !$0.outcomes.isEmpty || $0.writing > 0 }) && ContinuousClock.now < deadline + .seconds(10) {
            completerWake.signal()
            try? await Task.sleep(for: .milliseconds(10))
        }
        let unwritten = state.withLock { state -> Int in
            state.completerStopped = true
            return state.outcomes.count
        }
        completerWake.signal()
        try? await database.setNodeState(node, "stopped")
        for loop in tasks.withLock({ $0 }) { loop.task.cancel() }
        for loop in tasks.withLock({ $0 }) where !(await finished(loop.task, within: .seconds(3))) {
            logger.warning("the \(loop.name) loop did not end within 3 s of being cancelled; stopping without it")
        }
        let report = NodeStopReport(handedBack: handedBack, interrupted: interrupted, unwrittenOutcomes: unwritten)
        logger.info(
            "node \(configuration.name) stopped: \(handedBack) handed back, \(interrupted) interrupted, \(unwritten) outcome(s) unwritten")
        return report
    }
}

extension Error {
    /// Whether this is PostgreSQL's unique_violation (23505).
    var isUniqueViolation: Bool {
        if let error = self as? ClusterError, case .database(let message) = error { return message.contains("23505") }
        return false
    }
}
