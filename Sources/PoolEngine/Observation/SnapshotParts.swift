public import Histogram

/// Snapshots built outside the pool: a pool watched over the network, a recording. The dashboard renders
/// any `PoolSnapshot`, wherever it came from.
extension PoolSnapshot {
    public init(
        name: String, takenAt: PoolInstant, uptime: Duration, phase: PoolPhase, strategy: QueueStrategyKind,
        settings: ScalingSettings, queueCapacity: Int?, overflowPolicy: OverflowPolicy, workers: [WorkerSnapshot],
        queue: QueueDepths, inFlight: Int, awaitingRetry: Int, blockedSubmitters: Int, counters: JobCounters,
        latencies: LatencyHistograms?, throughput: Throughput, recentEvents: [PoolEvent], deadLetterCount: Int,
        breaker: BreakerState?, rateLimit: RateLimit?
    ) {
        self.init(
            name: name, takenAt: takenAt, uptime: uptime, phase: phase, strategy: strategy, settings: settings,
            queueCapacity: queueCapacity, overflowPolicy: overflowPolicy, workers: workers, stoppedWorkers: [], queue: queue,
            inFlight: inFlight, awaitingRetry: awaitingRetry, blockedSubmitters: blockedSubmitters, counters: counters,
            latencies: latencies, throughput: throughput, recentEvents: recentEvents, deadLetterCount: deadLetterCount,
            breaker: breaker, rateLimit: rateLimit, faults: .none)
    }

    /// The same picture with other latencies: a watcher that fetches the histograms less often than the
    /// rest keeps the last ones it got.
    public func replacingLatencies(with latencies: LatencyHistograms?) -> PoolSnapshot {
        var copy = self
        copy.latencies = latencies
        return copy
    }
}

extension LatencyHistograms {
    /// The recorded values of one histogram, as (value in nanoseconds, count) pairs: a compact form to send.
    public static func buckets(of histogram: Histogram<UInt64>) -> [[UInt64]] {
        histogram.recordedValues().map { [$0.value, $0.count] }
    }

    /// Histograms rebuilt from ``buckets(of:)`` pairs; malformed pairs are skipped.
    public init(queueWait: [[UInt64]], service: [[UInt64]], endToEnd: [[UInt64]]) {
        self.init()
        for (pairs, path) in [(queueWait, \LatencyHistograms.queueWait), (service, \.service), (endToEnd, \.endToEnd)] {
            // Pairs from the network: a count is capped so that no sum can overflow (2^40 per value).
            for pair in pairs where pair.count == 2 && pair[1] > 0 && self[keyPath: path].totalCount < 1 << 50 {
                _ = self[keyPath: path].record(min(pair[0], Self.highestTrackable), count: min(pair[1], 1 << 40))
            }
        }
    }
}
