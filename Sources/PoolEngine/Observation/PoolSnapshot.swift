/// An immutable picture of a whole pool at one instant, for dashboards and reports.
public struct PoolSnapshot: Sendable, Codable {
    public internal(set) var name: String
    public internal(set) var takenAt: PoolInstant
    public internal(set) var uptime: Duration
    public internal(set) var phase: PoolPhase
    public internal(set) var strategy: QueueStrategyKind
    public internal(set) var settings: ScalingSettings
    public internal(set) var queueCapacity: Int?
    public internal(set) var overflowPolicy: OverflowPolicy
    /// Every worker that has not yet stopped, by id.
    public internal(set) var workers: [WorkerSnapshot]
    /// The most recently stopped workers (retired or shut down), newest last, with their final counts.
    public internal(set) var stoppedWorkers: [WorkerSnapshot]
    public internal(set) var queue: QueueDepths
    /// Jobs running now.
    public internal(set) var inFlight: Int
    /// Failed jobs waiting out their backoff before another attempt.
    public internal(set) var awaitingRetry: Int
    /// Callers suspended in ``WorkerPool/submit(_:)`` for space in the queue.
    public internal(set) var blockedSubmitters: Int
    public internal(set) var counters: JobCounters
    /// Latencies of every finished attempt so far (`nil` if the snapshot was taken without them).
    public internal(set) var latencies: LatencyHistograms?
    public internal(set) var throughput: Throughput
    /// The latest events, oldest first.
    public internal(set) var recentEvents: [PoolEvent]
    public internal(set) var deadLetterCount: Int
    /// The circuit breaker's state, if the pool has one.
    public internal(set) var breaker: BreakerState?
    /// The rate limit in force, if any.
    public internal(set) var rateLimit: RateLimit?
    /// The faults being injected.
    public internal(set) var faults: FaultInjection
}

/// Where a pool is in its life.
public enum PoolPhase: String, Sendable, Equatable, Codable {
    /// Accepting and running jobs.
    case running
    /// Refusing new jobs, finishing the accepted ones.
    case draining
    /// Refusing new jobs, cancelling what is left.
    case cancelling
    /// Every worker has stopped.
    case stopped
}

/// One worker as a snapshot shows it.
public struct WorkerSnapshot: Sendable, Equatable {
    public let id: WorkerID
    public let state: WorkerState
    /// Jobs this worker finished successfully.
    public let completed: Int
    /// Attempts that failed on this worker.
    public let failed: Int
    /// Time spent running jobs so far, the current one included.
    public let busyTime: Duration
    public let startedAt: PoolInstant

    public init(id: WorkerID, state: WorkerState, completed: Int, failed: Int, busyTime: Duration, startedAt: PoolInstant) {
        self.id = id
        self.state = state
        self.completed = completed
        self.failed = failed
        self.busyTime = busyTime
        self.startedAt = startedAt
    }
}

/// What a worker is doing.
public enum WorkerState: Sendable, Equatable, Codable {
    /// Created, not yet running.
    case starting
    /// Waiting for work since the instant given.
    case idle(since: PoolInstant)
    /// Running a job since the instant given.
    case busy(job: JobID, since: PoolInstant)
    /// Finishing its current job, then it stops.
    case draining(job: JobID, since: PoolInstant)
    /// Gone: retired by a scale-down or by shutdown at the instant given.
    case stopped(at: PoolInstant)

    public var name: String {
        switch self {
        case .starting: "starting"
        case .idle: "idle"
        case .busy: "busy"
        case .draining: "draining"
        case .stopped: "stopped"
        }
    }
}

/// Completions per second, over sliding windows and second by second.
public struct Throughput: Sendable, Equatable, Codable {
    /// One second of history.
    public struct Second: Sendable, Equatable {
        /// Seconds since the pool started, at the end of this second.
        public let t: Double
        public let completed: Int
        public let failed: Int

        public init(t: Double, completed: Int, failed: Int) {
            self.t = t
            self.completed = completed
            self.failed = failed
        }
    }

    /// The last 300 whole seconds (five minutes), oldest first.
    public let seconds: [Second]
    /// Completions per second over the last 1, 10 and 60 seconds (or as many as there have been).
    public let last1s: Double
    public let last10s: Double
    public let last60s: Double
    /// The best whole second so far.
    public let peakPerSecond: Int

    public init(seconds: [Second], last1s: Double, last10s: Double, last60s: Double, peakPerSecond: Int) {
        self.seconds = seconds
        self.last1s = last1s
        self.last10s = last10s
        self.last60s = last60s
        self.peakPerSecond = peakPerSecond
    }
}
