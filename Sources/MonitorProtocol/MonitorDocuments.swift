public import Foundation
public import PoolEngine

/// The monitor protocol's version: in the paths (`/v1/...`) and in every snapshot, so a client can say
/// plainly when it meets a server it does not speak.
public let monitorProtocolVersion = 1

/// `GET /v1/pools`.
public struct PoolListDocument: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        package init(name: String) { self.name = name }
    }
    public var pools: [Entry]
    public var protocolVersion: Int

    package init(pools: [Entry], protocolVersion: Int) {
        self.pools = pools
        self.protocolVersion = protocolVersion
    }
}

/// `GET /v1/pools/NAME/snapshot`: the pool as a dashboard needs it, in plain JSON (snake_case keys).
public struct SnapshotDocument: Codable, Sendable, Equatable {
    public struct Worker: Codable, Sendable, Equatable {
        public var id: Int
        /// starting, idle, busy, draining or stopped.
        public var state: String
        /// The job running, when busy or draining, and for how long (seconds).
        public var job: UInt64?
        public var runningForS: Double?
        public var completed: Int
        public var failed: Int
        public var busyS: Double
    }

    public struct Counters: Codable, Sendable, Equatable {
        public var submitted, completed, failed, rejected, cancelled, retried, timedOut: Int
    }

    public struct Settings: Codable, Sendable, Equatable {
        public var minWorkers, maxWorkers, scaleUpThreshold: Int
        /// Present when the pool sizes itself for a target mean wait (``ScalingMode/targetWait(_:)``).
        public var targetWaitMs: Double? = nil
        public var targetWaitWindowMs: Double? = nil
    }

    public struct Latency: Codable, Sendable, Equatable {
        public var count: UInt64
        public var mean, p50, p90, p99, p999, max: Double
    }

    public struct Event: Codable, Sendable, Equatable {
        /// Seconds since the pool started.
        public var tS: Double
        /// scaled_up, scaled_down, dead_lettered, settings_changed, breaker_changed, worker_crashed,
        /// worker_replaced, shutdown_started, shutdown_deadline_reached, shutdown_escalated, shutdown_completed.
        public var type: String
        /// The event as the dashboard's log writes it.
        public var text: String
        /// Scale events: from and to how many workers, and why.
        public var from: Int?
        public var to: Int?
        public var reason: String?
    }

    public var protocolVersion: Int
    public var name: String
    /// running, draining, stopped.
    public var phase: String
    public var strategy: String
    public var uptimeS: Double
    public var workers: [Worker]
    /// All waiting jobs (the contract's `queue_depth`).
    public var queueDepth: Int
    public var queueCapacity: Int?
    public var perWorkerQueues: [String: Int]
    public var inFlight: Int
    public var awaitingRetry: Int
    public var blockedSubmitters: Int
    public var counters: Counters
    public var settings: Settings
    /// Completions per second: the last second, the last ten seconds, the best second.
    public var throughputNowPerS: Double
    public var throughputTenSecondsPerS: Double
    public var throughputPeakPerS: Int
    public var deadLetters: Int
    public var breaker: String?
    public var rateLimitPerS: Double?
    /// In milliseconds, over the whole run: queue_wait, service, end_to_end.
    public var latencyMs: [String: Latency]
    /// The same three as HDR histograms' recorded values, `[nanoseconds, count]` pairs, so a dashboard draws
    /// them as it draws a local pool's.
    public var latencyBuckets: [String: [[UInt64]]]
    /// The last seconds' completions: `[t, completed, failed]`, oldest first.
    public var throughputSeconds: [[Double]]
    /// Waiting in the queue every worker takes from (the rest wait in workers' own queues).
    public var sharedQueue: Int
    public var recentEvents: [Event]
}

extension SnapshotDocument {
    /// The document for `snapshot`, named `name`.
    public init(_ snapshot: PoolSnapshot, name: String) {
        let origin = snapshot.takenAt - snapshot.uptime
        protocolVersion = monitorProtocolVersion
        self.name = name
        phase = snapshot.phase.rawValue
        strategy = "\(snapshot.strategy)"
        uptimeS = snapshot.uptime.seconds
        workers = snapshot.workers.map { worker in
            var job: JobID?
            var since: PoolInstant?
            switch worker.state {
            case .busy(let running, let started), .draining(let running, let started):
                job = running
                since = started
            default: break
            }
            return Worker(
                id: worker.id.rawValue, state: worker.state.name, job: job?.rawValue,
                runningForS: since.map { (snapshot.takenAt - $0).seconds }, completed: worker.completed, failed: worker.failed,
                busyS: worker.busyTime.seconds)
        }
        queueDepth = snapshot.queue.total
        queueCapacity = snapshot.queueCapacity
        perWorkerQueues = Dictionary(uniqueKeysWithValues: snapshot.queue.perWorker.map { ("\($0.key.rawValue)", $0.value) })
        inFlight = snapshot.inFlight
        awaitingRetry = snapshot.awaitingRetry
        blockedSubmitters = snapshot.blockedSubmitters
        let c = snapshot.counters
        counters = Counters(
            submitted: c.submitted, completed: c.completed, failed: c.failed, rejected: c.rejected, cancelled: c.cancelled,
            retried: c.retried, timedOut: c.timedOut)
        settings = Settings(
            minWorkers: snapshot.settings.minWorkers, maxWorkers: snapshot.settings.maxWorkers,
            scaleUpThreshold: snapshot.settings.scaleUpThreshold)
        if case .targetWait(let goal) = snapshot.settings.mode {
            settings.targetWaitMs = goal.target.seconds * 1000
            settings.targetWaitWindowMs = goal.window.seconds * 1000
        }
        throughputNowPerS = snapshot.throughput.last1s
        throughputTenSecondsPerS = snapshot.throughput.last10s
        throughputPeakPerS = snapshot.throughput.peakPerSecond
        deadLetters = snapshot.deadLetterCount
        breaker = snapshot.breaker.map { "\($0)" }
        rateLimitPerS = snapshot.rateLimit?.perSecond
        var latency: [String: Latency] = [:]
        var buckets: [String: [[UInt64]]] = [:]
        if let histograms = snapshot.latencies {
            for (key, histogram) in [
                ("queue_wait", histograms.queueWait), ("service", histograms.service), ("end_to_end", histograms.endToEnd),
            ] {
                let s = LatencySummary(histogram)
                latency[key] = Latency(count: s.count, mean: s.mean, p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max)
                buckets[key] = LatencyHistograms.buckets(of: histogram)
            }
        }
        latencyMs = latency
        latencyBuckets = buckets
        throughputSeconds = snapshot.throughput.seconds.map { [$0.t, Double($0.completed), Double($0.failed)] }
        sharedQueue = snapshot.queue.shared
        recentEvents = snapshot.recentEvents.map { Event($0, origin: origin) }
    }
}

extension SnapshotDocument.Event {
    package init(_ event: PoolEvent, origin: PoolInstant) {
        tS = (event.time - origin).seconds
        text = "\(event.kind)"
        switch event.kind {
        case .scaledUp(let from, let to, let reason), .scaledDown(let from, let to, let reason):
            self.from = from
            self.to = to
            self.reason = reason
        default: break
        }
        type =
            switch event.kind {
            case .scaledUp: "scaled_up"
            case .scaledDown: "scaled_down"
            case .deadLettered: "dead_lettered"
            case .settingsChanged: "settings_changed"
            case .breakerChanged: "breaker_changed"
            case .workerCrashed: "worker_crashed"
            case .workerReplaced: "worker_replaced"
            case .shutdownStarted: "shutdown_started"
            case .shutdownDeadlineReached: "shutdown_deadline_reached"
            case .shutdownEscalated: "shutdown_escalated"
            case .shutdownCompleted: "shutdown_completed"
            case .reported: "reported"
            }
    }
}

/// `POST /v1/pools/NAME/commands`: one command, as JSON.
///
/// `{"command": "change_threshold", "by": 1}`; commands: `set_threshold` / `set_min_workers` /
/// `set_max_workers` (`value`), `change_threshold` / `change_min_workers` / `change_max_workers` (`by`),
/// `set_rate_limit` (`per_second`, optional `burst`; no `per_second` lifts the limit), `crash_worker`
/// (optional `worker`), `shutdown` (`mode`: `graceful` or `immediate`, optional `deadline_s`).
public struct CommandDocument: Codable, Sendable, Equatable {
    public var command: String
    public var value: Int?
    public var by: Int?
    public var perSecond: Double?
    public var burst: Int?
    public var worker: Int?
    public var mode: String?
    public var deadlineS: Double?

    public init(
        command: String, value: Int? = nil, by: Int? = nil, perSecond: Double? = nil, burst: Int? = nil, worker: Int? = nil,
        mode: String? = nil, deadlineS: Double? = nil
    ) {
        self.command = command
        self.value = value
        self.by = by
        self.perSecond = perSecond
        self.burst = burst
        self.worker = worker
        self.mode = mode
        self.deadlineS = deadlineS
    }
}

/// The answer to a command, or an error of any request.
public struct ReplyDocument: Codable, Sendable, Equatable {
    public var ok: Bool
    /// What was done, or what was wrong.
    public var message: String

    package init(ok: Bool, message: String) {
        self.ok = ok
        self.message = message
    }
}

/// JSON as the monitor writes and reads it: snake_case keys, sorted, so documents diff well.
public enum MonitorJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
