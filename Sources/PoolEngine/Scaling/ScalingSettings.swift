/// The part of a pool's configuration that governs scaling, changeable while the pool runs.
public struct ScalingSettings: Sendable, Equatable, Codable {
    public var minWorkers: Int
    public var maxWorkers: Int
    /// Scale up when pending jobs per worker exceed this.
    public var scaleUpThreshold: Int
    public var growth: Growth
    public var idleTimeout: Duration
    public var cooldown: Duration
    /// What the scaler aims for: the queue-per-worker threshold, or a mean wait sized by Erlang C.
    public var mode: ScalingMode

    public init(
        minWorkers: Int, maxWorkers: Int, scaleUpThreshold: Int, growth: Growth = .double,
        idleTimeout: Duration = .seconds(10), cooldown: Duration = .seconds(1), mode: ScalingMode = .queueThreshold
    ) {
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers
        self.scaleUpThreshold = scaleUpThreshold
        self.growth = growth
        self.idleTimeout = idleTimeout
        self.cooldown = cooldown
        self.mode = mode
    }

    init(_ configuration: PoolConfiguration) {
        self.init(
            minWorkers: configuration.minWorkers, maxWorkers: configuration.maxWorkers,
            scaleUpThreshold: configuration.scaleUpThreshold, growth: configuration.growth,
            idleTimeout: configuration.idleTimeout, cooldown: configuration.cooldown,
            mode: configuration.scalingMode)
    }

    func applied(to configuration: PoolConfiguration) -> PoolConfiguration {
        var result = configuration
        result.minWorkers = minWorkers
        result.maxWorkers = maxWorkers
        result.initialWorkers = nil
        result.scaleUpThreshold = scaleUpThreshold
        result.growth = growth
        result.idleTimeout = idleTimeout
        result.cooldown = cooldown
        result.scalingMode = mode
        return result
    }
}

/// How a pool decides its size between its minimum and maximum.
public enum ScalingMode: Sendable, Equatable, CustomStringConvertible, Codable {
    /// Grow while pending jobs per worker exceed ``ScalingSettings/scaleUpThreshold``; retire workers idle
    /// for ``ScalingSettings/idleTimeout``. Reacts to a queue that has already formed.
    case queueThreshold
    /// Estimate the arrival rate and the mean service time over a sliding window and keep the fewest
    /// workers whose predicted mean queue wait (Erlang C, the M/M/c queue) stays under a target. Sizes the
    /// pool for the load before a queue forms; shrinks once the lower load has lasted a window.
    case targetWait(TargetWait)

    public var description: String {
        switch self {
        case .queueThreshold: "queue threshold"
        case .targetWait(let goal): "target wait \(formatted(goal.target)) (window \(formatted(goal.window)))"
        }
    }
}

/// The goal of ``ScalingMode/targetWait(_:)``.
public struct TargetWait: Sendable, Equatable, Codable {
    /// The mean queue wait the pool keeps under.
    public var target: Duration
    /// How far back arrivals and service times are measured: shorter follows changes sooner, longer is
    /// steadier.
    public var window: Duration

    public init(target: Duration, window: Duration = .seconds(3)) {
        self.target = target
        self.window = window
    }
}
