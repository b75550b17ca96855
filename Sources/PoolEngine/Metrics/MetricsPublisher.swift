import CoreMetrics

/// Publishes the pool's counts and gauges through swift-metrics, so any metrics backend sees them.
final class MetricsPublisher: Sendable {
    private let jobs: [String: Counter]
    private let workers: Gauge
    private let queueDepth: Gauge
    private let inFlight: Gauge
    private let queueWait: Timer
    private let service: Timer
    private let published = Locked(JobCounters())

    init(poolName: String) {
        let dimensions = [("pool", poolName)]
        var jobs: [String: Counter] = [:]
        for outcome in ["submitted", "completed", "failed", "rejected", "cancelled", "retried", "timed_out"] {
            jobs[outcome] = Counter(label: "poolscope_jobs_total", dimensions: dimensions + [("outcome", outcome)])
        }
        self.jobs = jobs
        workers = Gauge(label: "poolscope_workers", dimensions: dimensions)
        queueDepth = Gauge(label: "poolscope_queue_depth", dimensions: dimensions)
        inFlight = Gauge(label: "poolscope_jobs_in_flight", dimensions: dimensions)
        queueWait = Timer(label: "poolscope_queue_wait", dimensions: dimensions)
        service = Timer(label: "poolscope_service_time", dimensions: dimensions)
    }

    /// Reports the counts' growth since the last call, and the current gauges.
    func publish(counters: JobCounters, workers: Int, queueDepth: Int, inFlight: Int) {
        // Field-wise maximum, so a late call with older counts never reports anything twice.
        let previous = published.withLock { published in
            let before = published
            published.submitted = max(before.submitted, counters.submitted)
            published.completed = max(before.completed, counters.completed)
            published.failed = max(before.failed, counters.failed)
            published.rejected = max(before.rejected, counters.rejected)
            published.cancelled = max(before.cancelled, counters.cancelled)
            published.retried = max(before.retried, counters.retried)
            published.timedOut = max(before.timedOut, counters.timedOut)
            return before
        }
        func add(_ outcome: String, _ now: Int, _ before: Int) {
            if now > before { jobs[outcome]?.increment(by: Int64(now - before)) }
        }
        add("submitted", counters.submitted, previous.submitted)
        add("completed", counters.completed, previous.completed)
        add("failed", counters.failed, previous.failed)
        add("rejected", counters.rejected, previous.rejected)
        add("cancelled", counters.cancelled, previous.cancelled)
        add("retried", counters.retried, previous.retried)
        add("timed_out", counters.timedOut, previous.timedOut)
        self.workers.record(workers)
        self.queueDepth.record(queueDepth)
        self.inFlight.record(inFlight)
    }

    func recordLatencies(queueWait: Duration, service: Duration) {
        self.queueWait.recordNanoseconds(queueWait.nanoseconds)
        self.service.recordNanoseconds(service.nanoseconds)
    }
}
