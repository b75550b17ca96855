public import Histogram

/// The three latencies the pool measures for every finished attempt, in nanoseconds.
public struct LatencyHistograms: Sendable, Codable {
    /// Time from entering the queue to starting on a worker.
    public var queueWait: Histogram<UInt64>
    /// Time a worker spent running the attempt.
    public var service: Histogram<UInt64>
    /// Time from first submission to the job's terminal state.
    public var endToEnd: Histogram<UInt64>

    /// Values above this (one hour) are recorded as this.
    public static let highestTrackable: UInt64 = 3_600_000_000_000

    public init() {
        queueWait = Self.makeHistogram()
        service = Self.makeHistogram()
        endToEnd = Self.makeHistogram()
    }

    private static func makeHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackable, numberOfSignificantValueDigits: .two)
    }

    @usableFromInline
    mutating func record(queueWait: Int64, service: Int64, endToEnd: Int64?) {
        _ = self.queueWait.record(Self.clamp(queueWait))
        _ = self.service.record(Self.clamp(service))
        if let endToEnd { _ = self.endToEnd.record(Self.clamp(endToEnd)) }
    }

    mutating func add(_ other: LatencyHistograms) {
        queueWait.add(other.queueWait)
        service.add(other.service)
        endToEnd.add(other.endToEnd)
    }

    private static func clamp(_ nanoseconds: Int64) -> UInt64 {
        UInt64(min(max(nanoseconds, 0), Int64(highestTrackable)))
    }
}

/// The usual summary of one latency distribution, in milliseconds.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var count: UInt64
    public var mean: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double

    /// An empty distribution: every figure zero.
    public init() {
        count = 0
        mean = 0
        p50 = 0
        p90 = 0
        p99 = 0
        p999 = 0
        max = 0
    }

    public init(_ histogram: Histogram<UInt64>) {
        let toMilliseconds = { (nanoseconds: UInt64) in Double(nanoseconds) / 1e6 }
        guard histogram.totalCount > 0 else {
            self = LatencySummary()
            return
        }
        count = histogram.totalCount
        mean = histogram.mean / 1e6
        p50 = toMilliseconds(histogram.valueAtPercentile(50))
        p90 = toMilliseconds(histogram.valueAtPercentile(90))
        p99 = toMilliseconds(histogram.valueAtPercentile(99))
        p999 = toMilliseconds(histogram.valueAtPercentile(99.9))
        max = toMilliseconds(histogram.max)
    }
}

extension LatencyHistograms {
    /// What was recorded since `earlier` (a copy of these histograms taken before): a sliding window is the
    /// whole run now minus the whole run then.
    public func subtracting(_ earlier: LatencyHistograms) -> LatencyHistograms {
        var window = self
        window.queueWait = Self.difference(queueWait, earlier.queueWait)
        window.service = Self.difference(service, earlier.service)
        window.endToEnd = Self.difference(endToEnd, earlier.endToEnd)
        return window
    }

    private static func difference(_ now: Histogram<UInt64>, _ then: Histogram<UInt64>) -> Histogram<UInt64> {
        var result = now
        result.reset()
        for bucket in now.recordedValues() {
            let before = then.countForValue(bucket.value)
            if bucket.count > before { _ = result.record(bucket.value, count: bucket.count - before) }
        }
        return result
    }
}
