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
    /// The recent load, for ``ScalingMode/targetWait(_:)``; `nil` before a job has finished.
    public var load: LoadEstimate?
    /// When the pool last grew, if ever: a target-wait pool does not shrink within a window of growing.
    public var lastGrewAt: PoolInstant?

    public init(
        now: PoolInstant, pending: Int, workers: [Worker], lastScaledAt: PoolInstant?, settings: ScalingSettings,
        load: LoadEstimate? = nil, lastGrewAt: PoolInstant? = nil
    ) {
        self.now = now
        self.pending = pending
        self.workers = workers
        self.lastScaledAt = lastScaledAt
        self.settings = settings
        self.load = load
        self.lastGrewAt = lastGrewAt
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
/// In ``ScalingMode/targetWait(_:)`` the size comes from ``targetWaitSize(_:goal:)`` instead.
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
        if case .targetWait(let goal) = settings.mode, input.load != nil {
            return decideForTargetWait(input, goal: goal)
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

    /// The size a target-wait pool aims for, and why.
    public struct Sizing: Sendable, Equatable {
        public var workers: Int
        public var reason: String
    }

    /// The fewest workers, within min...max, for which the M/M/c queue predicts a mean wait under the
    /// target at the measured load; more while a backlog is queued that the current workers could not
    /// clear within the target (workers to carry the load plus those to drain the backlog within ten targets).
    public static func targetWaitSize(_ input: ScalingInput, goal: TargetWait, within target: Double? = nil) -> Sizing? {
        guard let load = input.load, load.meanService > 0, load.arrivalRate.isFinite else { return nil }
        let settings = input.settings
        let targetSeconds = target ?? goal.target.seconds
        let service = load.meanService
        let describeLoad = "λ \(rateText(load.arrivalRate))/s, 1/μ \(formatted(seconds: service))"
        // No arrivals and nothing queued: the minimum, which may be none.
        if load.arrivalRate == 0 && input.pending == 0 {
            return Sizing(workers: settings.minWorkers, reason: "no arrivals for \(formatted(goal.window)): min \(settings.minWorkers)")
        }
        let smallest = max(settings.minWorkers, 1)
        var (workers, predicted) = ErlangC.fewestServers(
            in: smallest...max(settings.maxWorkers, smallest), arrivalRate: load.arrivalRate, meanService: service,
            maxWait: targetSeconds)
        var reason: String
        let bound =
            target == nil
            ? formatted(goal.target) : "\(formatted(seconds: targetSeconds)) (a margin under the \(formatted(goal.target)) target)"
        if let predicted, predicted <= targetSeconds {
            reason = "\(describeLoad): c = \(workers) keeps Wq \(formatted(seconds: predicted)) < \(bound)"
        } else if let predicted {
            reason = "\(describeLoad): even max \(workers) leaves Wq \(formatted(seconds: predicted)) > \(formatted(goal.target))"
        } else {
            reason = "\(describeLoad): load \(trimmed(load.offeredLoad)) erlangs needs more than max \(workers)"
        }
        // A backlog the current workers would take longer than the target to clear (a step up in load
        // that the estimate has not caught up with yet): add the workers that drain it within ten targets.
        let current = max(input.workers.count, 1)
        let backlogWait = Double(input.pending) * service / Double(current)
        if backlogWait > targetSeconds {
            let drainSeconds = 10 * goal.target.seconds
            let drain = Int((load.offeredLoad + Double(input.pending) * service / drainSeconds).rounded(.up))
            let capped = min(max(drain, settings.minWorkers), settings.maxWorkers)
            if capped > workers {
                workers = capped
                reason = "\(describeLoad), \(input.pending) queued: c = \(workers) to drain them within \(formatted(goal.target * 10))"
            }
        }
        return Sizing(workers: workers, reason: reason)
    }

    private static func decideForTargetWait(_ input: ScalingInput, goal: TargetWait) -> ScalingDecision {
        let count = input.workers.count
        guard let up = targetWaitSize(input, goal: goal) else { return .hold }
        if up.workers > count { return .scaleUp(to: up.workers, reason: up.reason) }
        // Shrink only a whole window after growing, and only to a size that would keep the wait under half
        // the target, so that noise in the estimate does not start and retire a worker every cooldown.
        if let grew = input.lastGrewAt, input.now - grew < goal.window { return .hold }
        guard let down = targetWaitSize(input, goal: goal, within: goal.target.seconds / 2), down.workers < count else {
            return .hold
        }
        let keep = max(down.workers, up.workers)
        guard keep < count else { return .hold }
        let retire = retirementOrder(input.workers).prefix(count - keep)
        return .scaleDown(retire: Array(retire), to: keep, reason: keep == down.workers ? down.reason : up.reason)
    }

    /// Idle workers first, longest idle first, then busy ones, newest first.
    private static func retirementOrder(_ workers: [ScalingInput.Worker]) -> [WorkerID] {
        workers.sorted { lhs, rhs in
            switch (lhs.idleSince, rhs.idleSince) {
            case (let l?, let r?): return l == r ? lhs.id < rhs.id : l < r
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

/// A duration given in seconds, in the short form of ``formatted(_:)``.
func formatted(seconds: Double) -> String {
    guard seconds.isFinite, abs(seconds) < 9e9 else { return "\(seconds)s" }
    // Whole milliseconds from 10 ms up, tenths below: "31ms", "4.2ms".
    let step = abs(seconds) >= 0.01 ? 1e-3 : 1e-4
    return formatted(.nanoseconds(Int64((seconds / step).rounded() * step * 1e9)))
}

/// A rate with at most three significant digits: "412", "41.2", "4.12".
func rateText(_ rate: Double) -> String {
    guard rate.isFinite else { return "\(rate)" }
    if rate >= 100 { return "\(Int(rate.rounded()))" }
    if rate >= 10 { return "\((rate * 10).rounded() / 10)" }
    return "\((rate * 100).rounded() / 100)"
}

private func trimmed(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? "\(Int(rounded))" : "\(rounded)"
}
