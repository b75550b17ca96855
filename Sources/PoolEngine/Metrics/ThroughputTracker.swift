import DequeModule

/// Turns the pool's running totals into per-second throughput, sampled on the scaler's tick.
struct ThroughputTracker {
    private let origin: PoolInstant
    private var secondStart: PoolInstant
    private var completedAtStart = 0
    private var failedAtStart = 0
    private var history = Deque<Throughput.Second>()
    private var peak = 0
    /// Five minutes: a wide terminal draws one column per second.
    private static let kept = 300

    init(origin: PoolInstant) {
        self.origin = origin
        secondStart = origin
    }

    /// Closes every whole second that has passed by `now`; a late sample credits the first of them.
    mutating func sample(now: PoolInstant, counters: JobCounters) {
        while now - secondStart >= .seconds(1) {
            secondStart = secondStart + .seconds(1)
            let second = Throughput.Second(
                t: (secondStart - origin).seconds,
                completed: counters.completed - completedAtStart,
                failed: counters.failed - failedAtStart)
            completedAtStart = counters.completed
            failedAtStart = counters.failed
            peak = max(peak, second.completed)
            history.append(second)
            if history.count > Self.kept { history.removeFirst() }
        }
    }

    var current: Throughput {
        func mean(last window: Int) -> Double {
            let tail = history.suffix(window)
            guard !tail.isEmpty else { return 0 }
            return Double(tail.reduce(0) { $0 + $1.completed }) / Double(tail.count)
        }
        return Throughput(
            seconds: Array(history), last1s: mean(last: 1), last10s: mean(last: 10), last60s: mean(last: 60),
            peakPerSecond: peak)
    }
}
