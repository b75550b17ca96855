/// The part of a pool's configuration that governs scaling, changeable while the pool runs.
public struct ScalingSettings: Sendable, Equatable {
    public var minWorkers: Int
    public var maxWorkers: Int
    /// Scale up when pending jobs per worker exceed this.
    public var scaleUpThreshold: Int
    public var growth: Growth
    public var idleTimeout: Duration
    public var cooldown: Duration

    public init(
        minWorkers: Int, maxWorkers: Int, scaleUpThreshold: Int, growth: Growth = .double,
        idleTimeout: Duration = .seconds(10), cooldown: Duration = .seconds(1)
    ) {
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers
        self.scaleUpThreshold = scaleUpThreshold
        self.growth = growth
        self.idleTimeout = idleTimeout
        self.cooldown = cooldown
    }

    init(_ configuration: PoolConfiguration) {
        self.init(
            minWorkers: configuration.minWorkers, maxWorkers: configuration.maxWorkers,
            scaleUpThreshold: configuration.scaleUpThreshold, growth: configuration.growth,
            idleTimeout: configuration.idleTimeout, cooldown: configuration.cooldown)
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
        return result
    }
}
