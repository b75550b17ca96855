import Foundation
import PoolEngine
import Prometheus
import Synchronization

/// `GET /metrics`: the pools in the Prometheus text exposition format, names prefixed `poolscope_`.
///
/// Counts, gauges and scale events go through a swift-prometheus registry, updated from a snapshot at
/// each scrape (counters advance by what changed since the last scrape, so they stay monotonic). The
/// latency histograms are written from the pool's own HDR histograms into fixed Prometheus buckets: they
/// are exact over the whole run, and a Prometheus histogram type could only be fed one observation at a
/// time, which would mean a second recording on every job's hot path.
final class MonitorMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// Per pool, the counts seen at the last scrape.
    private let lastCounts = Mutex<[String: JobCounters]>([:])
    private let scaleEvents = Mutex<[String: (up: Int, down: Int, reported: (up: Int, down: Int))]>([:])

    static let workerStates = ["starting", "idle", "busy", "draining"]
    /// Upper bounds, in seconds, of the latency histograms' buckets.
    static let latencyBuckets: [Double] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    /// Counts a pool's scale event (the monitor listens to each pool's events).
    func scaled(pool: String, up: Bool) {
        scaleEvents.withLock { events in
            var entry = events[pool] ?? (0, 0, (0, 0))
            if up { entry.up += 1 } else { entry.down += 1 }
            events[pool] = entry
        }
    }

    /// One scrape at a time: two at once could take their snapshots in one order and advance the counters
    /// in the other, counting the same jobs twice.
    private let scrape = Mutex(())

    /// The exposition text for these pools, from one snapshot of each.
    func exposition(_ pools: [String: WorkerPool]) -> String {
        scrape.withLock { _ in
            let taken = pools.sorted { $0.key < $1.key }.map { (name: $0.key, snapshot: $0.value.snapshot()) }
            return text(taken)
        }
    }

    private func text(_ pools: [(name: String, snapshot: PoolSnapshot)]) -> String {
        for (name, snapshot) in pools { update(name, snapshot) }
        var text = registry.emitToString()
        let families: [(String, String, KeyPath<LatencyHistograms, HDRHistogram>)] = [
            ("poolscope_queue_wait_seconds", "Time jobs waited in the queue before starting.", \.queueWait),
            ("poolscope_service_seconds", "Time attempts ran.", \.service),
            ("poolscope_end_to_end_seconds", "Time from submission to a job's end.", \.endToEnd),
        ]
        for (metric, help, path) in families {
            let measured = pools.compactMap { pool in pool.snapshot.latencies.map { (pool.name, $0[keyPath: path]) } }
            guard !measured.isEmpty else { continue }
            text += "# HELP \(metric) \(help)\n# TYPE \(metric) histogram\n"
            for (name, histogram) in measured { text += Self.histogram(metric, name, histogram) }
        }
        return text
    }

    private func update(_ pool: String, _ snapshot: PoolSnapshot) {
        let now = snapshot.counters
        let before = lastCounts.withLock { counts in
            defer { counts[pool] = now }
            return counts[pool] ?? JobCounters()
        }
        // Every count but `submitted`, which is its own family.
        let changes = JobCounters.fields.filter { $0.name != "submitted" }.map { field in
            (field.name, now[keyPath: field.value] - before[keyPath: field.value])
        }
        for (outcome, change) in changes {
            counter("jobs", "total", "Jobs by how they ended (retried and timed_out count attempts).", pool, [("outcome", outcome)])
                .increment(by: Int64(max(change, 0)))
        }
        counter("jobs_submitted", "total", "Jobs submitted.", pool, []).increment(by: Int64(max(now.submitted - before.submitted, 0)))
        var byState: [String: Int] = [:]
        for worker in snapshot.workers { byState[worker.state.name, default: 0] += 1 }
        for state in Self.workerStates {
            gauge("workers", "Workers by state.", pool, [("state", state)]).set(to: Double(byState[state] ?? 0))
        }
        gauge("queue_depth", "Jobs waiting.", pool, []).set(to: Double(snapshot.queue.total))
        gauge("jobs_in_flight", "Jobs running.", pool, []).set(to: Double(snapshot.inFlight))
        gauge("dead_letters", "Jobs dead-lettered so far.", pool, []).set(to: Double(snapshot.deadLetterCount))
        gauge("max_workers", "The pool's maximum workers.", pool, []).set(to: Double(snapshot.settings.maxWorkers))
        let (up, down) = scaleEvents.withLock { events -> (Int, Int) in
            guard var entry = events[pool] else { return (0, 0) }
            defer {
                entry.reported = (entry.up, entry.down)
                events[pool] = entry
            }
            return (entry.up - entry.reported.up, entry.down - entry.reported.down)
        }
        counter("scale_events", "total", "Scale events by direction.", pool, [("direction", "up")]).increment(by: Int64(up))
        counter("scale_events", "total", "Scale events by direction.", pool, [("direction", "down")]).increment(by: Int64(down))
    }

    private func counter(_ name: String, _ unit: String, _ help: String, _ pool: String, _ labels: [(String, String)]) -> Prometheus.Counter
    {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "poolscope", metricName: name, unitName: unit, helpText: help),
            labels: [("pool", pool)] + labels)
    }

    private func gauge(_ name: String, _ help: String, _ pool: String, _ labels: [(String, String)]) -> Prometheus.Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "poolscope", metricName: name, unitName: "", helpText: help),
            labels: [("pool", pool)] + labels)
    }

    /// One Prometheus histogram from an HDR histogram of nanoseconds: cumulative buckets, sum and count.
    static func histogram(_ name: String, _ pool: String, _ histogram: HDRHistogram) -> String {
        let label = "pool=\"\(escaped(pool))\""
        var lines: [String] = []
        for bound in latencyBuckets {
            let nanoseconds = UInt64(bound * 1e9)
            let count = histogram.totalCount == 0 ? 0 : histogram.count(within: 0...nanoseconds)
            lines.append("\(name)_bucket{\(label),le=\"\(bound)\"} \(count)")
        }
        lines.append("\(name)_bucket{\(label),le=\"+Inf\"} \(histogram.totalCount)")
        lines.append("\(name)_sum{\(label)} \(histogram.mean * Double(histogram.totalCount) / 1e9)")
        lines.append("\(name)_count{\(label)} \(histogram.totalCount)")
        return lines.joined(separator: "\n") + "\n"
    }

    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
