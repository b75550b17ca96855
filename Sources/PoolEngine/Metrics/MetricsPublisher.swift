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
        for outcome in JobCounters.fields.map(\.name) {
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
            defer { published = published.fieldwiseMax(counters) }
            return published
        }
        for field in JobCounters.fields {
            let (now, before) = (counters[keyPath: field.value], previous[keyPath: field.value])
            if now > before { jobs[field.name]?.increment(by: Int64(now - before)) }
        }
        self.workers.record(workers)
        self.queueDepth.record(queueDepth)
        self.inFlight.record(inFlight)
    }

    func recordLatencies(queueWait: Duration, service: Duration) {
        self.queueWait.recordNanoseconds(queueWait.nanoseconds)
        self.service.recordNanoseconds(service.nanoseconds)
    }
}
