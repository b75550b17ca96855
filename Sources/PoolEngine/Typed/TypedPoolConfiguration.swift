/// How a ``TypedPool`` runs its jobs. The defaults are the fast path: no retries, no timeout, no latency
/// histograms, and jobs cost a few nanoseconds each; each feature turned on costs only where it is used.
public struct TypedPoolConfiguration: Sendable, Equatable {
    /// The core workers, each with a queue of its own, always running. Keyed jobs go to these only.
    public var workers: Int
    /// Up to this many workers (nil: `workers`, fixed). As ants' pools do, one more worker starts when a
    /// submission leaves a backlog in a busy worker's queue and no worker is idle to take half of it, and
    /// a worker beyond the core that finds nothing to do for ``idleTimeout`` ends (the newest first).
    public var maxWorkers: Int?
    /// How long a worker beyond the core waits for a job before it ends.
    public var idleTimeout: Duration = .seconds(1)
    /// How jobs without a key wait: per-worker queues with stealing (the default and the fastest), or one
    /// queue all workers take from, first-in first-out, last-in first-out or by priority with aging.
    public var strategy: TypedQueueStrategy = .perWorker
    /// The most jobs one worker's queue holds; further offers to it are rejected. A shared queue (see
    /// ``strategy``) holds `capacityPerWorker × (maxWorkers ?? workers)`.
    public var capacityPerWorker: Int = 65_536
    /// Jobs a worker takes from its queue at once (one trip through the queue's lock). A job that blocks
    /// holds the rest of its batch, so jobs that may block for long want `1`. From a shared queue a worker
    /// takes at most its fair share of what waits; a job offered meanwhile, however urgent, waits for the
    /// batches taken before it, so strict priority order wants `1` too.
    public var batchSize: Int = 64
    /// Attempts per job and the backoff between them. A retry runs on the same worker after its backoff
    /// (the worker waits it out), so keep backoffs short here; the closure pool re-queues instead.
    public var retry: RetryPolicy = .none
    /// The longest one attempt may run before it is cancelled and counted as timed out (then retried or
    /// failed). Only for an async handler: a synchronous call cannot be interrupted. Cancellation is
    /// cooperative: a handler that ignores it keeps its worker until it returns (its job still counts as
    /// timed out).
    public var timeout: Duration?
    /// Whether to record each attempt's queue wait, service time and each job's end-to-end time in
    /// histograms (one clock reading per attempt, one more per batch; see ``TypedPool/latencies``).
    public var recordsLatencies = false
    /// How many of the most recent dead letters (jobs whose last attempt failed) to keep, input included.
    public var deadLetterCapacity = 1_000
    /// When set, the pool's counts and gauges go to swift-metrics with this as their `pool` dimension, as
    /// ``WorkerPool`` publishes its own: `poolscope_jobs_total` by outcome, `poolscope_workers`,
    /// `poolscope_queue_depth` and `poolscope_jobs_in_flight`. They are published every
    /// ``metricsInterval`` from a task of the pool's, and once more at shutdown with the final counts, so
    /// the workers pay nothing per job. In flight counts the jobs workers have taken and not ended, their
    /// batches included. Latencies stay in ``TypedPool/latencies``. Pools that share a name share their series.
    public var metricsName: String?
    /// How often the counts and gauges are published when ``metricsName`` is set; at least 1 ms.
    public var metricsInterval: Duration = .seconds(1)

    public init(workers: Int) {
        self.workers = workers
    }

    /// Whether any feature beyond plain counting is on (the batch loop then checks each).
    @usableFromInline
    var needsFeatures: Bool { retry.maxAttempts > 1 || timeout != nil || recordsLatencies }

    @usableFromInline
    func validate(synchronousHandler: Bool) throws(ConfigurationError) {
        func fail(_ field: String, _ message: String) -> ConfigurationError {
            ConfigurationError(field: field, message: message)
        }
        if workers < 1 { throw fail("workers", "must be 1 or more, got \(workers)") }
        if let maxWorkers, maxWorkers < workers {
            throw fail("maxWorkers", "must be at least workers (\(workers)), got \(maxWorkers)")
        }
        if idleTimeout <= .zero { throw fail("idleTimeout", "must be more than zero, got \(idleTimeout)") }
        if case .priority(let aging?) = strategy, aging < .nanoseconds(1) {
            throw fail("strategy", "priority aging must be at least 1 ns, got \(aging)")
        }
        if capacityPerWorker < 1 { throw fail("capacityPerWorker", "must be 1 or more, got \(capacityPerWorker)") }
        if batchSize < 1 { throw fail("batchSize", "must be 1 or more, got \(batchSize)") }
        if deadLetterCapacity < 0 { throw fail("deadLetterCapacity", "must be 0 or more, got \(deadLetterCapacity)") }
        if let metricsName, metricsName.isEmpty { throw fail("metricsName", "must not be empty (nil publishes nothing)") }
        if metricsInterval < .milliseconds(1) { throw fail("metricsInterval", "must be at least 1 ms, got \(metricsInterval)") }
        try retry.validate()
        if let timeout {
            if timeout <= .zero { throw fail("timeout", "must be more than zero, got \(timeout)") }
            if synchronousHandler {
                throw fail("timeout", "needs an async handler: a synchronous call cannot be interrupted")
            }
        }
    }
}

/// A job of a ``TypedPool`` whose last attempt failed, kept with its input so it can be looked at or
/// offered again.
public struct TypedDeadLetter<Input: Sendable>: Sendable {
    /// The job's input.
    public let input: Input
    /// Attempts made, the failed last one included.
    public let attempts: Int
    /// The last attempt's error, in words.
    public let lastError: String
    /// Whether the last attempt ran out of time.
    public let timedOut: Bool

    @usableFromInline
    init(input: Input, attempts: Int, lastError: String, timedOut: Bool) {
        self.input = input
        self.attempts = attempts
        self.lastError = lastError
        self.timedOut = timedOut
    }
}
