/// What the scaler sees of the pool at one instant.
public struct ScalingInput: Sendable {
    /// A worker as the scaler sees it.
    public struct Worker: Sendable, Equatable {
        public var id: WorkerID
        /// When it became idle, or `nil` while it runs a job.
        public var idleSince: PoolInstant?
        public init(id: WorkerID, idleSince: PoolInstant?) {
            self.id = id
            self.idleSince = idleSince
        }
    }

    public var now: PoolInstant
    /// Jobs waiting to start.
    public var pending: Int
    /// Workers that are not already on their way out.
    public var workers: [Worker]
    /// When the pool last scaled, if ever.
    public var lastScaledAt: PoolInstant?
    public var settings: ScalingSettings

    public init(now: PoolInstant, pending: Int, workers: [Worker], lastScaledAt: PoolInstant?, settings: ScalingSettings) {
        self.now = now
        self.pending = pending
        self.workers = workers
        self.lastScaledAt = lastScaledAt
        self.settings = settings
    }
}

/// What the scaler decided.
public enum ScalingDecision: Sendable, Equatable {
    /// Leave the pool as it is.
    case hold
    /// Start workers until there are `to`.
    case scaleUp(to: Int, reason: String)
    /// Retire these workers (idle ones at once, busy ones after their job), leaving `to`.
    case scaleDown(retire: [WorkerID], to: Int, reason: String)
}

/// The pool's scaling rule, as a pure function of what the pool looks like and the time.
///
/// In order: below `minWorkers` or above `maxWorkers` (after a settings change) is corrected at once; then,
/// outside the cooldown, the pool grows (``Growth``, capped at the maximum) while pending jobs per worker
/// exceed the threshold, and otherwise retires workers idle for `idleTimeout`, longest idle first, never
/// below the minimum and never so many that the remaining workers would be over the threshold.
public enum ScalingPolicy {
    public static func decide(_ input: ScalingInput) -> ScalingDecision {
        let settings = input.settings
        let count = input.workers.count
        if count < settings.minWorkers {
            return .scaleUp(to: settings.minWorkers, reason: "\(count) workers < min \(settings.minWorkers)")
        }
        if count > settings.maxWorkers {
            let retire = retirementOrder(input.workers).prefix(count - settings.maxWorkers)
            return .scaleDown(
                retire: Array(retire), to: settings.maxWorkers,
                reason: "\(count) workers > max \(settings.maxWorkers)")
        }
        if let last = input.lastScaledAt, input.now - last < settings.cooldown {
            return .hold
        }
        if input.pending > settings.scaleUpThreshold * count && count < settings.maxWorkers {
            let target = settings.growth.next(from: count, max: settings.maxWorkers)
            return .scaleUp(
                to: target,
                reason: "queue \(input.pending) > \(count) workers x \(settings.scaleUpThreshold)")
        }
        let expired = input.workers.filter { worker in
            guard let since = worker.idleSince else { return false }
            return input.now - since >= settings.idleTimeout
        }
        guard !expired.isEmpty, count > settings.minWorkers else { return .hold }
        var retireCount = min(expired.count, count - settings.minWorkers)
        while retireCount > 0 && input.pending > settings.scaleUpThreshold * (count - retireCount) {
            retireCount -= 1
        }
        guard retireCount > 0 else { return .hold }
        let retire = retirementOrder(expired).prefix(retireCount)
        return .scaleDown(
            retire: Array(retire), to: count - retireCount,
            reason: "\(retireCount) worker\(retireCount == 1 ? "" : "s") idle >= \(formatted(settings.idleTimeout))")
    }

    /// Idle workers first, longest idle first, then busy ones, newest first.
    private static func retirementOrder(_ workers: [ScalingInput.Worker]) -> [WorkerID] {
        workers.sorted { lhs, rhs in
            switch (lhs.idleSince, rhs.idleSince) {
            case let (l?, r?): return l == r ? lhs.id < rhs.id : l < r
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return lhs.id > rhs.id
            }
        }.map(\.id)
    }
}

/// A short human form of a duration: "250ms", "1.5s", "2m".
public func formatted(_ duration: Duration) -> String {
    let seconds = duration.seconds
    if seconds >= 60 && seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
    if seconds >= 1 { return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(trimmed(seconds))s" }
    let milliseconds = seconds * 1000
    if milliseconds >= 1 { return "\(trimmed(milliseconds))ms" }
    return "\(trimmed(milliseconds * 1000))us"
}

private func trimmed(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? "\(Int(rounded))" : "\(rounded)"
}
